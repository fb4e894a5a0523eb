"""The bus-hop benchmark runs on an embedded Redis of its own and reports what a hop costs."""

from __future__ import annotations

import asyncio

import pytest

from bench.bus_hop import run


@pytest.mark.servers
async def test_a_hop_costs_more_than_its_publish_alone() -> None:
    figures = await asyncio.wait_for(run(entries=200, rounds=1), timeout=60)
    assert set(figures) == {"bare", "publish", "hop", "parsed"}
    assert all(figure > 0 for figure in figures.values())
    # Each hop publishes the same entries and then consumes every one of them (it returns only
    # once its handler has seen them all): it costs more than the publish alone.
    assert figures["hop"] > figures["publish"]
    assert figures["parsed"] > figures["publish"]

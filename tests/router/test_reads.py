"""The router's reads on plain data: a line's settings as routing reads them, and the chunks
that keep set-wise reads under every database's limit of bound parameters.

The set-wise reads of a run of inbound messages are measured on real databases by
tests/router/test_query_counts.py.
"""

from __future__ import annotations

import logging

import pytest

from config.lines import LineSettings
from core.db.schema import Line
from router.reads import CHUNK, chunks, line_settings


def test_a_line_settings_are_read_from_its_row() -> None:
    line = Line(id=1, settings={"offer_seconds": 90, "returning": "last_operator"})
    assert line_settings(line) == LineSettings(offer_seconds=90, returning="last_operator")


def test_a_line_without_settings_routes_with_the_defaults() -> None:
    assert line_settings(Line(id=1, settings=None)) == LineSettings()


def test_settings_this_version_cannot_read_fall_back_to_the_defaults_and_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="router.reads"):
        assert line_settings(Line(id=7, settings={"offer_seconds": "soon"})) == LineSettings()
    assert "line 7 has invalid settings" in caplog.text


@pytest.mark.parametrize("count", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_chunks_keep_every_key_once_in_order_and_none_over_the_limit(count: int) -> None:
    keys = list(range(count))
    parts = chunks(iter(keys))
    assert [k for part in parts for k in part] == keys
    assert all(0 < len(part) <= CHUNK for part in parts)
    assert len(parts) == -(-count // CHUNK)

"""What the router did over a run, read from the ``/metrics`` of each process that routes.

At 200 visitor messages a second the hub holds a whole core, and its tail follows the queue the
burst leaves (docs/BENCHMARKS.md). Whether that queue waits for the router shows in the router's
own histograms: how many transactions it ran, how many inputs each took, and how much of the
run's wall time it spent in them (``Router._handle_now``: the transaction, its commit and its
publish). A router busy near all of the time is where the queue stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "bench-metrics-token"
"""The hub's ``metrics_token`` in the benchmark (``/metrics`` is off without one)."""

SECONDS = "openlines_router_batch_seconds"
SIZE = "openlines_router_batch_size"


@dataclass(frozen=True)
class RouterFigures:
    """The router's running totals (of one process, or summed over several)."""

    transactions: float = 0.0
    inputs: float = 0.0
    busy_s: float = 0.0
    """Seconds spent in transactions, from their start to their publish answered."""

    def __add__(self, other: RouterFigures) -> RouterFigures:
        return RouterFigures(
            self.transactions + other.transactions,
            self.inputs + other.inputs,
            self.busy_s + other.busy_s,
        )

    def since(self, before: RouterFigures) -> RouterFigures:
        """What happened between ``before`` and these totals."""
        return RouterFigures(
            self.transactions - before.transactions,
            self.inputs - before.inputs,
            self.busy_s - before.busy_s,
        )


def parse(exposition: str) -> RouterFigures:
    """The router's totals in a Prometheus text exposition; zero where it has none."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name in (SECONDS, SIZE):
            for sample in family.samples:
                samples[sample.name] = sample.value
    return RouterFigures(
        transactions=samples.get(f"{SECONDS}_count", 0.0),
        inputs=samples.get(f"{SIZE}_sum", 0.0),
        busy_s=samples.get(f"{SECONDS}_sum", 0.0),
    )


async def read(bases: list[str]) -> RouterFigures:
    """The totals of the router processes at ``bases`` (the hub's own URLs), summed."""
    total = RouterFigures()
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for base in bases:
            async with http.get(f"{base}/metrics") as answer:
                answer.raise_for_status()
                total += parse(await answer.text())
    return total


def summary(figures: RouterFigures, wall_s: float, routers: int, sent: int) -> str:
    """One line for the report: transactions, inputs each, and the share of the wall time
    the router processes spent in them."""
    if figures.transactions <= 0 or wall_s <= 0:
        return "no transactions"
    per_message = f", {figures.transactions / sent:.2f} per visitor msg" if sent else ""
    busy = figures.busy_s / (wall_s * routers)
    return (
        f"{figures.transactions:,.0f}{per_message}, {figures.inputs / figures.transactions:.1f}"
        f" inputs each, busy {busy:.0%} of the time"
        + (f" (the mean of {routers} processes)" if routers > 1 else "")
    )

"""The hub's Prometheus metrics: counters and histograms kept inline, figures read at scrape time.

Counting happens where the thing happens (a message accepted, a batch handled) and costs a dict
update. Everything that is a state rather than an event — stream lengths, pending entries,
dialogs waiting, operators online — is read when Prometheus scrapes (``operator_console.
metrics_api``), so a hub nobody scrapes pays nothing for it.

One ``HubMetrics`` per process, under an app key and carried by the bus: each has a registry
of its own, so several hubs in one test process never share a figure.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds from a visitor's message being accepted to its push to the operator's socket."""
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
BATCH_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ScrapeFigures(Collector):
    """The figures read at scrape time: whatever the last ``replace`` put here."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def replace(self, families: Iterable[Metric]) -> None:
        """Hold ``families`` for the next collect (called right before each exposition)."""
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        """The families of the last scrape."""
        return list(self._families)


class HubMetrics:
    """Every metric this process exports, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.messages_in = Counter(
            "openlines_messages_in",
            "Client messages accepted onto the inbound streams, per channel.",
            ["channel"],
            registry=registry,
        )
        self.messages_out = Counter(
            "openlines_messages_out",
            "Outbound messages handed to a platform, per channel kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.consumer_failures = Counter(
            "openlines_consumer_failures",
            "Stream entries whose handler failed (each failed delivery counts), per stream.",
            ["stream"],
            registry=registry,
        )
        self.websockets = Gauge(
            "openlines_websocket_connections",
            "Open websockets of this process: operator consoles and web chat visitors (kind "
            "visitor_poll: the widget's long-poll links).",
            ["kind"],
            registry=registry,
        )
        self.visitor_to_operator = Histogram(
            "openlines_visitor_to_operator_seconds",
            "From a client's message being accepted to its push to an operator's socket.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.router_batch_size = Histogram(
            "openlines_router_batch_size",
            "Entries in one batch the router handled in one transaction.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.router_batch_seconds = Histogram(
            "openlines_router_batch_seconds",
            "Time the router took over one batch, commit and publishing included.",
            buckets=BATCH_SECONDS_BUCKETS,
            registry=registry,
        )
        self.scraped = ScrapeFigures()
        registry.register(self.scraped)

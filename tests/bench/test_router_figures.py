"""The router's figures of a run, read from the hub's own metrics exposition."""

from __future__ import annotations

from aiohttp.test_utils import TestServer
from prometheus_client import generate_latest
from pydantic import SecretStr

from bench.router_figures import METRICS_TOKEN, RouterFigures, parse, read, summary
from config.settings import Settings
from core.metrics import HubMetrics
from operator_console.app import build_app
from operator_console.keys import ROUTER_SERVICE


def test_the_routers_totals_come_from_its_histograms_in_the_exposition() -> None:
    metrics = HubMetrics()
    for size, seconds in ((3, 0.002), (5, 0.004), (1, 0.001)):
        metrics.router_batch_size.observe(size)
        metrics.router_batch_seconds.observe(seconds)
    figures = parse(generate_latest(metrics.registry).decode())
    assert figures.transactions == 3
    assert figures.inputs == 9
    assert abs(figures.busy_s - 0.007) < 1e-9


def test_a_process_that_never_routed_counts_nothing() -> None:
    assert parse(generate_latest(HubMetrics().registry).decode()) == RouterFigures()
    assert parse("") == RouterFigures()


def test_a_run_is_the_difference_of_two_readings_summed_over_the_processes() -> None:
    start = RouterFigures(10, 30, 1.0) + RouterFigures(4, 4, 0.5)
    end = RouterFigures(30, 110, 2.5) + RouterFigures(14, 24, 1.5)
    assert end.since(start) == RouterFigures(30, 100, 2.5)


def test_the_report_line_says_how_busy_the_routers_were() -> None:
    run = RouterFigures(transactions=10, inputs=40, busy_s=1.5)
    assert summary(run, wall_s=2.0, routers=1, sent=20) == (
        "10, 0.50 per visitor msg, 4.0 inputs each, busy 75% of the time"
    )
    assert summary(run, wall_s=2.0, routers=2, sent=0) == (
        "10, 4.0 inputs each, busy 38% of the time (the mean of 2 processes)"
    )
    assert summary(RouterFigures(), wall_s=2.0, routers=1, sent=20) == "no transactions"


async def test_a_running_hub_reports_each_transaction_of_its_router(settings: Settings) -> None:
    """Read as the benchmark reads it: the hub's own /metrics, behind the benchmark's token."""
    token = SecretStr(METRICS_TOKEN)
    hub = TestServer(build_app(settings.model_copy(update={"metrics_token": token})))
    await hub.start_server()
    try:
        base = str(hub.make_url("")).rstrip("/")
        before = await read([base])
        await hub.app[ROUTER_SERVICE].router.handle([])
        await hub.app[ROUTER_SERVICE].router.handle([])
        run = (await read([base])).since(before)
        assert run.transactions == 2
        assert run.inputs == 0
        assert run.busy_s > 0
    finally:
        await hub.close()

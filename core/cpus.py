"""Keeping the hub's process on the CPUs the ``cpus`` setting names.

Python runs one thread at a time, so a hub process uses about one core however many it may run
on; its threads (the event loop, the database writers, the SQLite readers) hand the interpreter
lock to each other many times a message. On the 2-core benchmark machine a one-process hub
kept on one CPU spent 2–17 % less CPU per visitor message than one the kernel moved between
both, in runs taking turns (docs/BENCHMARKS.md, "3 December, evening"). Off by default: on a
host shared with other busy processes, a hub held to one CPU cannot move away from a neighbour
that takes it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def pin_process(cpus: frozenset[int], tasks: Path = Path("/proc/self/task")) -> bool:
    """Keep every thread of this process on ``cpus``; threads started later inherit it from the
    thread that starts them. False, with a warning, when the system refuses (a CPU this
    process may not use); the process then runs where it did."""
    if not hasattr(os, "sched_setaffinity") or not tasks.is_dir():
        log.warning("cpus %s: not pinned, this system has no CPU affinity", sorted(cpus))
        return False
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        log.warning(
            "cpus %s: not pinned, this process may only use CPUs %s",
            sorted(cpus), sorted(allowed),
        )  # fmt: skip
        return False
    for task in tasks.iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except ProcessLookupError:
            continue  # a thread that ended meanwhile
    log.info("the process is kept on CPUs %s", sorted(cpus))
    return True

"""How fast the hub starts, and what it holds and spends when idle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Child, cpu_seconds, rss_mib, start_hub, wait_hub


@dataclass
class Started:
    """A hub process and the seconds it took to a healthy /healthz."""

    child: Child
    started_s: float


def start(
    log_level: str,
    tmp: Path,
    port: int,
    redis_url: str,
    database_url: str,
    admin_password: str,
    children: list[Child],
) -> Started:
    """Start the hub and time it to a healthy /healthz."""
    began = time.perf_counter()
    child = start_hub(tmp / "hub", port, redis_url, database_url, admin_password, log_level)
    children.append(child)
    wait_hub(child, port)
    return Started(child, time.perf_counter() - began)


IDLE_S = 5.0
"""Seconds an idle hub is watched for its memory and CPU."""


def idle(pid: int) -> dict[str, float]:
    """The idle hub's resident memory and its CPU over IDLE_S, in % of one core."""
    time.sleep(1.0)  # what start-up left to finish (first timers, first reads)
    cpu = cpu_seconds(pid)
    time.sleep(IDLE_S)
    return {
        "idle_rss_mib": rss_mib(pid),
        "idle_cpu_percent": 100 * (cpu_seconds(pid) - cpu) / IDLE_S,
    }

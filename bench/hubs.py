"""The hub under test as one process or as one process per role, on one Redis and database.

``one`` is ``openlines run`` (every role in one process). ``split`` runs ``openlines run --role``
once for the console, the connectors and the CRM sink, and once per router process: the router
processes share the inbound shards by lease (``router/worker.py``). Visitors then talk to the
connectors process (it serves the widget socket) and operators to the console process, as
nginx would send them (docs/DEPLOY.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.procs import (
    Child,
    children_of,
    cpu_seconds,
    free_port,
    rss_mib,
    start_hub,
    tree_cpu_seconds,
    wait_hub,
    wait_workers,
)

LAYOUTS = ("one", "split")
SPLIT_ROLES = ("console", "connectors", "crm")


@dataclass
class HubProcess:
    """One process of the hub: its role, its port and the child itself."""

    role: str
    port: int
    child: Child
    workers: int = 1
    """Console workers under this process (``openlines run --workers``); 1: none."""

    def pids(self) -> list[int]:
        """The process and its workers."""
        return [self.child.pid, *(children_of(self.child.pid) if self.workers > 1 else [])]


@dataclass
class Hub:
    """The processes of one hub, and the seconds they took to a healthy /healthz (all of them)."""

    processes: list[HubProcess]
    started_s: float

    def _all_serving(self, role: str) -> list[HubProcess]:
        return [process for process in self.processes if process.role in ("all", role)]

    def _serving(self, role: str) -> HubProcess:
        serving = self._all_serving(role)
        if not serving:
            raise LookupError(f"no process serves {role}")
        return serving[0]

    @property
    def visitor_base(self) -> str:
        """Where visitors connect: the process with the web-chat connector."""
        return f"http://127.0.0.1:{self._serving('connectors').port}"

    @property
    def operator_base(self) -> str:
        """Where operators log in and answer: the process with the console."""
        return f"http://127.0.0.1:{self._serving('console').port}"

    @property
    def router_bases(self) -> list[str]:
        """The URLs of the processes that route (their ``/metrics`` count the router's work)."""
        return [f"http://127.0.0.1:{p.port}" for p in self._all_serving("router")]

    @property
    def router_pid(self) -> int:
        """The first process that routes (the one to profile)."""
        return self._serving("router").child.pid

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of every process by its name, and their sum as ``hub``."""
        # A supervisor's workers are its children: their CPU is counted with its own.
        each = {p.child.name: (tree_cpu_seconds if p.workers > 1 else cpu_seconds)(p.child.pid)
                for p in self.processes}  # fmt: skip
        return {"hub": sum(each.values())} | (each if len(each) > 1 else {})

    def rss_mib(self) -> float:
        """Resident memory of all the processes together."""
        return sum(rss_mib(pid) for p in self.processes for pid in p.pids())

    def stop(self, children: list[Child]) -> list[str]:
        """Stop every process (routers last: they finish the batch in hand); returns a line for
        each that exited other than by the SIGTERM it was sent."""
        unusual = []
        for process in sorted(self.processes, key=lambda p: p.role == "router"):
            process.child.stop()
            if process.child in children:
                children.remove(process.child)
            code = process.child.process.returncode
            if code not in (0, -15):
                unusual.append(f"bench: {process.child.name} exited with {code}")
        return unusual


def roles(layout: str, routers: int) -> list[tuple[str, str]]:
    """(role, process name) of each process of a layout."""
    if layout == "one":
        return [("all", "hub")]
    named = [(role, f"hub-{role}") for role in SPLIT_ROLES]
    return named + [("router", f"hub-router-{n}") for n in range(1, routers + 1)]


def start(
    layout: str,
    routers: int,
    log_level: str,
    tmp: Path,
    redis_url: str,
    database_url: str,
    admin_password: str,
    children: list[Child],
    cpus: Mapping[str, str] | None = None,
    console_workers: int = 1,
) -> Hub:
    """Start every process of the layout at once and wait until each answers /healthz.

    Each child is recorded in ``children`` as soon as it exists, so an interrupt during the
    start still stops it. ``cpus``: each process's ``cpus`` setting by its role, ``*`` for any.
    ``console_workers``: the split's console as that many workers on its port.
    """
    began = time.perf_counter()
    processes = []
    for role, name in roles(layout, routers):
        port = free_port()
        workers = console_workers if role == "console" else 1
        child = start_hub(
            tmp / "hub",
            port,
            redis_url,
            database_url,
            admin_password,
            log_level,
            role,
            name,
            _cpus_of(role, cpus or {}),
            ["--workers", str(workers)] if workers > 1 else [],
        )
        children.append(child)
        processes.append(HubProcess(role, port, child, workers))
    for process in processes:
        wait_hub(process.child, process.port)
        if process.workers > 1:
            wait_workers(process.child, process.workers, process.port)
    return Hub(processes, time.perf_counter() - began)


def _cpus_of(role: str, cpus: Mapping[str, str]) -> str:
    """The ``cpus`` setting of a process of ``role``: its role's list, else everyone's."""
    return cpus.get(role, cpus.get("*", ""))


IDLE_S = 5.0
"""Seconds an idle hub is watched for its memory and CPU."""


def idle(hub: Hub) -> dict[str, float]:
    """The idle hub's resident memory and its CPU over IDLE_S, in % of one core (all its
    processes together)."""
    time.sleep(1.0)  # what start-up left to finish (first timers, first reads)
    cpu = hub.cpu_seconds()["hub"]
    time.sleep(IDLE_S)
    return {
        "idle_rss_mib": hub.rss_mib(),
        "idle_cpu_percent": 100 * (hub.cpu_seconds()["hub"] - cpu) / IDLE_S,
    }

"""``openlines run --role console --workers 2``: two console processes on one port, each
carrying the live events of the operators whose sockets the kernel gave it; a worker that dies
is started again while the other serves; a stop stops them all.

The console, the router and the connectors are ``openlines run --role …`` children of the test
(tests/support/roles.py) on one Redis and one SQLite file. Which worker holds a connection is
read from the kernel's socket tables (``/proc``), not from anything the hub says of itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bench.procs import listening_workers, served_ports
from operator_console.workers import workers_refused
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.roles import Deployment, RoleProcess
from tests.support.servers import free_port_run

pytestmark = [pytest.mark.timeout(120), pytest.mark.servers]
ON_REDIS_7 = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

MOST_SOCKETS = 40
"""Operator sockets opened at most until both workers hold one: the kernel picks a listener
by a hash of each connection's addresses, so forty all on one worker is a 2⁻³⁹ chance."""


@pytest.fixture
async def deployment(
    tmp_path: Path, redis_url: str, empty_sqlite_url: str
) -> AsyncIterator[Deployment]:
    hub = Deployment(tmp_path, redis_url, empty_sqlite_url, {"bus_block_ms": "100"})
    try:
        yield hub
    finally:
        hub.stop()


def workers_of(supervisor: RoleProcess) -> list[int]:
    """The supervisor's two workers, once each one listens on the console's port."""
    found = listening_workers(
        supervisor.pid, 2, supervisor.port, lambda: supervisor.process.poll() is None, 30.0
    )
    assert found is not None, supervisor.tail()
    return found


def still_running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are still processes."""
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def client_port(operator: OperatorClient) -> int:
    assert operator.ws is not None
    return int(operator.ws.get_extra_info("sockname")[1])


async def sockets_on_both(
    console: RoleProcess, workers: list[int]
) -> dict[int, list[OperatorClient]]:
    """Admin sessions with an open operator socket, opened until each worker holds one; by
    the worker that holds each."""
    held: dict[int, list[OperatorClient]] = {pid: [] for pid in workers}
    for _ in range(MOST_SOCKETS):
        operator = OperatorClient(console.url)
        await operator.login("admin", ADMIN_PASSWORD)
        await operator.open_socket()
        port = client_port(operator)
        holder = [pid for pid in workers if port in served_ports(pid, console.port)]
        assert len(holder) == 1, f"socket from port {port} held by {holder}"
        held[holder[0]].append(operator)
        if all(held.values()):
            return held
    raise AssertionError(f"{MOST_SOCKETS} sockets, all on one worker: {held}")


@ON_REDIS_7
async def test_each_worker_carries_the_live_events_of_its_own_sockets(
    deployment: Deployment,
) -> None:
    console = deployment.start("console", "--workers", "2")
    await deployment.ready(console)
    router, connectors = deployment.start("router"), deployment.start("connectors")
    await deployment.ready(router, connectors)
    workers = workers_of(console)
    assert len(workers) == 2, console.tail()
    held = await sockets_on_both(console, workers)
    operators = [operator for on_worker in held.values() for operator in on_worker]
    visitor = VisitorClient(connectors.url)
    try:
        await operators[0].wait_status("online")
        await visitor.connect()
        sent = await visitor.say("Hello from the widget")
        # Every socket, on either worker, is shown the message.
        for operator in operators:
            frame = await operator.receive_until("message", client_msg_id=sent)
            assert frame["message"]["text"] == "Hello from the widget"
        dialog_id = frame["message"]["dialog_id"]
        # An answer given through a socket of the second worker reaches the visitor.
        answering = held[workers[1]][0]
        assert answering.ws is not None
        await answering.ws.send_json(
            {"type": "reply", "dialog_id": dialog_id, "text": "Hi!", "client_msg_id": "r-1"}
        )
        answer = await visitor.receive_until("message", author="operator")
        assert answer["text"] == "Hi!"
    finally:
        await visitor.close()
        for operator in operators:
            await operator.close()


@ON_REDIS_7
async def test_a_dead_worker_is_started_again_and_a_stop_stops_them_all(
    deployment: Deployment,
) -> None:
    # Worker k serves its metrics on metrics_port + k.
    metrics_port = free_port_run(2)
    deployment.settings["metrics_port"] = str(metrics_port)
    console = deployment.start("console", "--workers", "2")
    await deployment.ready(console)
    first, second = workers_of(console)
    async with aiohttp.ClientSession() as http:
        for port in (metrics_port, metrics_port + 1):
            async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
                assert answer.status == 200
                assert "openlines_" in await answer.text()
        os.kill(second, signal.SIGKILL)
        # The other worker answers while the dead one's place is empty.
        for _ in range(10):
            async with http.get(f"{console.url}/healthz") as answer:
                assert answer.status == 200
        now = workers_of(console)
        assert first in now and second not in now, console.tail()
        assert "exited with -9; starting it again" in console.tail()
    console.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(console.process.wait, 20) == 0
    assert not still_running(now)


def test_workers_are_refused_where_they_cannot_share_the_work() -> None:
    from config.settings import Settings

    shared = Settings(redis_url="redis://127.0.0.1:1/0")
    assert workers_refused(shared, "console", 2) is None
    assert workers_refused(Settings(), "console", 1) is None
    refused = workers_refused(shared, "router", 2)
    assert refused is not None and "--role console" in refused
    refused = workers_refused(Settings(), "console", 2)
    assert refused is not None and "redis_url" in refused
    refused = workers_refused(shared, "console", 0)
    assert refused is not None and "at least 1" in refused

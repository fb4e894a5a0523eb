"""Close to the open-file limit, new sockets are refused with 503 and the live ones carry on."""

from __future__ import annotations

import asyncio
import logging
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from config.settings import Settings
from operator_console.app import build_app
from tests.support.hubclient import VisitorClient
from tests.support.poll_client import PollVisitor


@pytest.fixture
async def small_hub(settings: Settings) -> AsyncIterator[str]:
    """A hub that keeps three websockets open at most."""
    app = build_app(settings.model_copy(update={"max_open_sockets": 3}))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_sockets_past_the_budget_get_503_and_one_log_line(
    small_hub: str, caplog: pytest.LogCaptureFixture
) -> None:
    visitors = [VisitorClient(small_hub) for _ in range(3)]
    for visitor in visitors:
        assert (await visitor.connect())["type"] == "welcome"
    ws_url = small_hub.replace("http", "ws", 1) + "/widget/ws?channel=demo"
    caplog.set_level(logging.WARNING, logger="operator_console.socket_budget")
    async with aiohttp.ClientSession() as http:
        for _ in range(20):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url)
            assert refused.value.status == 503
            assert refused.value.headers is not None
            assert refused.value.headers["Retry-After"] == "5"
    refusals = [r for r in caplog.records if "refusing new sockets" in r.getMessage()]
    assert len(refusals) == 1
    assert not [r for r in caplog.records if r.exc_info]
    # The sockets already open still work, and a closed one frees its place.
    for visitor in visitors:
        await visitor.send_raw('{"type": "ping"}')
        assert (await visitor.receive_until("pong"))["type"] == "pong"
    await visitors[0].close()
    newcomer = await _let_in(small_hub)
    assert newcomer.welcome["type"] == "welcome"
    for visitor in [*visitors[1:], newcomer]:
        await visitor.close()


async def test_held_long_polls_count_as_sockets(small_hub: str) -> None:
    """A widget's waiting poll holds a connection as its socket would."""
    visitors = [VisitorClient(small_hub) for _ in range(2)]
    for visitor in visitors:
        await visitor.connect()
    polling = PollVisitor(small_hub)
    try:
        await polling.connect()  # its poll took the third place while it waited for the welcome
        waiting = asyncio.create_task(polling.poll())  # and holds it now
        await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as http:
            ws_url = small_hub.replace("http", "ws", 1) + "/widget/ws?channel=demo"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url)
            assert refused.value.status == 503
        waiting.cancel()
    finally:
        await polling.close()
        for visitor in visitors:
            await visitor.close()


async def _let_in(hub: str, within_s: float = 5.0) -> VisitorClient:
    """A visitor who keeps trying, as told by Retry-After, until a place is free.

    A closed socket gives its place back once the hub has finished with it, which is a moment
    after the close handshake that the leaving visitor waits for."""
    deadline = time.monotonic() + within_s
    while True:
        visitor = VisitorClient(hub)
        try:
            await visitor.connect()
            return visitor
        except aiohttp.WSServerHandshakeError as refused:
            await visitor.close()
            if refused.status != 503 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


def test_the_hub_raises_its_soft_open_file_limit_to_the_hard_one() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)

    def lower_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    script = (
        "import resource\n"
        "from operator_console.socket_budget import raise_open_file_limit\n"
        "before = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
        "raise_open_file_limit()\n"
        "print(before, *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=lower_soft_limit,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [int(n) for n in out] == [low, hard, hard]

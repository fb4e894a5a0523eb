"""A whole hub on a Redis that fails over or moves slots (Sentinel, Cluster) under widget load,
and the check that every message the widget was told "accepted" is stored and shown once.

The groups (``tests.support.sentinel_group``, ``tests.support.redis_cluster``) start their
Redis processes; ``running`` stops them whatever happens, ``hub_on`` serves every component of
the hub in this process on the group, and ``Load`` keeps visitors writing like the widget's
outbox while the test breaks something.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from config.settings import Settings
from core.app_keys import SESSIONS
from core.db.schema import Message
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient


class RedisGroup(Protocol):
    """Redis processes a test starts and stops, reached through one ``redis_url``."""

    @property
    def url(self) -> str:
        """The hub's ``redis_url`` for the group."""

    def start(self) -> None:
        """Start every process; return once the group serves."""

    def stop(self) -> None:
        """Stop every process that was started."""


G = TypeVar("G", bound=RedisGroup)


@contextmanager
def running(group: G) -> Iterator[G]:
    """``group`` started, and stopped after, also when it failed half-way through starting."""
    try:
        group.start()
        yield group
    finally:
        group.stop()


@asynccontextmanager
async def hub_on(group: RedisGroup, tmp_path: Path, **settings: Any) -> AsyncIterator[TestServer]:
    """The hub on ``group``, quick to reclaim entries and to hand leases over; ``settings``
    add to or override these."""
    base: dict[str, Any] = {
        "redis_url": group.url,
        "data_dir": tmp_path / "var",
        "admin_password": ADMIN_PASSWORD,
        "claim_idle_ms": 500,
        "lease_ttl_ms": 3000,
        "bus_block_ms": 100,
    }
    server = TestServer(build_app(Settings(**(base | settings))), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def hub_people(
    hub: TestServer, visitors: int
) -> AsyncIterator[tuple[OperatorClient, list[VisitorClient]]]:
    """The admin, online, and ``visitors`` visitors welcomed on the demo chat."""
    base = str(hub.make_url("")).rstrip("/")
    admin = OperatorClient(base)
    people = [VisitorClient(base) for _ in range(visitors)]
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.wait_status("online")
        for visitor in people:
            assert (await visitor.connect())["type"] == "welcome"
        yield admin, people
    finally:
        for visitor in people:
            await visitor.close()
        await admin.close()


async def send_until_accepted(visitor: VisitorClient, text: str) -> str:
    """Send like the widget's outbox: the same ``client_msg_id`` again until "accepted"."""
    cid = uuid.uuid4().hex
    while True:
        await visitor.say(text, cid)
        async with asyncio.timeout(15):
            while True:
                frame = await visitor.receive()
                if frame.get("client_msg_id") == cid and frame["type"] in ("accepted", "error"):
                    break
        if frame["type"] == "accepted":
            return cid
        await asyncio.sleep(0.1)  # the widget's outbox waits a little before sending again


class Load:
    """Every visitor sends numbered messages, one after the other, until ``finish``."""

    def __init__(self, visitors: list[VisitorClient]) -> None:
        self.accepted: list[str] = []
        """The ``client_msg_id`` of every message the hub said "accepted" to."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._all(visitors))

    async def _all(self, visitors: list[VisitorClient]) -> None:
        async def one(visitor: VisitorClient) -> None:
            n = 0
            while not self._stop.is_set():
                n += 1
                self.accepted.append(await send_until_accepted(visitor, f"load {n}"))

        await asyncio.gather(*(one(v) for v in visitors))

    async def more(self, count: int) -> None:
        """Return once ``count`` more messages than now were accepted."""
        target = len(self.accepted) + count
        while len(self.accepted) < target:
            if self._task.done():
                self._task.result()  # a visitor failed: say why
            await asyncio.sleep(0.02)

    async def finish(self) -> list[str]:
        """Stop sending; every message accepted, once each visitor's last one is answered."""
        self._stop.set()
        await asyncio.wait_for(self._task, 30)
        return self.accepted


async def stored_once(hub: TestServer, accepted: list[str]) -> Counter[str]:
    """How often each accepted message is stored, once all of them are (30 s at most)."""
    stored: Counter[str] = Counter()
    async with asyncio.timeout(30):
        while set(stored) != set(accepted):
            async with hub.app[SESSIONS]() as session:
                rows = await session.execute(
                    select(Message.client_msg_id, func.count())
                    .where(Message.client_msg_id.in_(accepted), Message.author == "client")
                    .group_by(Message.client_msg_id)
                )
            stored = Counter({str(cid): count for cid, count in rows})
            await asyncio.sleep(0.1)
    return stored


async def assert_each_stored_and_shown_once(
    hub: TestServer, admin: OperatorClient, accepted: list[str]
) -> None:
    """Every accepted message is stored once and the operator's console shows it once."""
    assert len(set(accepted)) == len(accepted)
    stored = await stored_once(hub, accepted)
    assert set(stored.values()) == {1}, "an accepted message was stored twice"
    status, listing = await admin.call("GET", "/api/dialogs?status=all")
    assert status == 200, listing
    shown: Counter[str] = Counter()
    for dialog in listing["dialogs"]:
        _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        shown.update(m["client_msg_id"] for m in body["messages"] if m["author"] == "client")
    assert all(shown[cid] == 1 for cid in accepted)

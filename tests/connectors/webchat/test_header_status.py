"""The widget's "online / away" header tells the truth: the line is within its working hours
and one of its operators is online, checked again with every keep-alive, so it changes while
the visitor's page stays open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Line
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient, VisitorClient

pytestmark = [ON_SQLITE]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence_grace_s": 0.5})


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    client = VisitorClient(hub)
    yield client
    await client.close()


async def pong(visitor: VisitorClient) -> bool:
    await visitor.send_raw('{"type": "ping"}')
    frame = await visitor.receive_until("pong")
    online: bool = frame["online"]
    return online


async def set_schedule(settings: Settings, schedule: dict[str, object] | None) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.settings = {} if schedule is None else {"schedule": schedule}
    finally:
        await engine.dispose()


async def test_the_header_follows_presence_and_working_hours_without_a_reload(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    welcome = await visitor.connect()
    assert welcome["online"] is False  # nobody has signed in

    admin = OperatorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        # The socket before the wait: a sign-in without one goes offline once the short grace
        # has passed, which could otherwise come before the wait sees "online".
        await admin.open_socket()
        await admin.wait_status("online")
        assert await pong(visitor) is True

        # A line closed all week: away, though its operator is at the console.
        await set_schedule(settings, {"week": {}})
        assert await pong(visitor) is False
        await set_schedule(settings, None)
        assert await pong(visitor) is True

        # The operator closes the console: away once the grace is over.
        assert admin.ws is not None
        await admin.ws.close()
        await admin.wait_status("offline", timeout=6)
        assert await pong(visitor) is False
    finally:
        await admin.close()

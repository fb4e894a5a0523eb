"""A widget's hello reads back only what its visitor can have: a visitor id issued by this very
hello has no identity yet, so its welcome is made without reading history or a rating; a
returning visitor (with its token) gets both from the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.app_keys import SESSIONS
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.querycount import count_queries

VISITOR_READS = ("FROM client_identities", "FROM messages")
"""What reading a visitor's history or pending rating starts with."""


@pytest.fixture
async def app(redis_url: str, sqlite_url: str, tmp_path: Path) -> AsyncIterator[web.Application]:
    settings = Settings(
        redis_url=redis_url,
        database_url=sqlite_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
    )
    yield build_app(settings)


@pytest.fixture
async def hub(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def reads_of_visitors(statements: list[str]) -> list[str]:
    return [s for s in statements if any(r in " ".join(s.split()) for r in VISITOR_READS)]


async def test_a_new_visitors_hello_reads_no_history_and_a_returning_one_gets_its_own(
    app: web.Application, hub: str
) -> None:
    engine = app[SESSIONS].kw["bind"]
    admin = OperatorClient(hub)
    first = VisitorClient(hub)
    again = VisitorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.wait_status("online")
        await admin.open_socket()

        with count_queries(engine) as statements:
            welcome = await first.connect()
        assert welcome["type"] == "welcome" and welcome["history"] == []
        assert "rating" not in welcome
        assert reads_of_visitors(statements) == [], statements.report()

        cid = await first.say("Is the kettle in stock?")
        await first.receive_until("message", client_msg_id=cid)
        await admin.receive_until("message", author="client")

        assert first.token is not None
        with count_queries(engine) as statements:
            back = await again.connect(token=first.token)
        assert [m["text"] for m in back["history"]] == ["Is the kettle in stock?"]
        assert reads_of_visitors(statements), statements.report()
    finally:
        await first.close()
        await again.close()
        await admin.close()

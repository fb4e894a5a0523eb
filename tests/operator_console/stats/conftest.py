"""A running console for the statistics tests, with its application object at hand (to list
its routes) and sessions on its database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.schema import Operator
from operator_console.app import build_app
from operator_console.auth import hash_password
from tests.support.hubclient import OperatorClient


@dataclass
class Console:
    """A running hub: its base URL, application and database."""

    base: str
    app: web.Application
    db: SessionMaker

    async def person(self, login: str, role: str) -> int:
        """A new console user whose password is ``pw-<login>``."""
        async with self.db() as s, s.begin():
            op = Operator(
                login=login,
                name=login.title(),
                role=role,
                password_hash=hash_password("pw-" + login),
            )
            s.add(op)
            await s.flush()
            return op.id

    async def client(self, login: str) -> OperatorClient:
        """A logged-in console user."""
        client = OperatorClient(self.base)
        await client.login(login, "pw-" + login)
        return client


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[Console]:
    """The console alone on the session's Redis and a fresh database.

    No router runs: the tests write dialogs straight into the database, and a router would
    hand the waiting ones to an operator as soon as that operator logs in, changing the very
    figures under test between two requests."""
    app = build_app(settings, role="console")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    engine = make_engine(settings.effective_database_url)
    try:
        yield Console(str(server.make_url("")).rstrip("/"), app, make_sessionmaker(engine))
    finally:
        await engine.dispose()
        await server.close()

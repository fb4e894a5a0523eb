"""Helpers of the connector tests: a whole hub (real Redis, SQLite) and its channel accounts.

``Hub.add_channel(kind, key, config)`` adds a channel account the way the admin API does (a row,
then a ``channels.changed`` notice) and waits until the running connector has loaded it.
(A module of its own: every test tier has a ``conftest`` module, so that name is ambiguous.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from config.settings import Settings
from connectors.accounts import do_announce_change
from connectors.workers import KindWorkers
from core.db.schema import Channel, Line
from tests.support.admin import ADMIN_PASSWORD


@dataclass
class Hub:
    server: TestServer

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def add_channel(self, kind: str, key: str, config: dict[str, Any]) -> int:
        from core.app_keys import BUS, SESSIONS
        from operator_console.keys import CHANNELS

        app = self.server.app
        async with app[SESSIONS]() as session, session.begin():
            line = await session.scalar(select(Line).order_by(Line.id).limit(1))
            assert line is not None
            channel = Channel(
                line_id=line.id, kind=kind, key=key, name=f"{kind} {key}", config=config
            )
            session.add(channel)
            await session.flush()
            channel_id = channel.id
        await do_announce_change(app[BUS], channel_id, kind)
        connector = next(c for c in app[CHANNELS] if c.kind == kind)
        # The first account of a kind imports that kind's library (aiogram alone takes
        # seconds, 8 s on a loaded machine) after the account is known and before the kind's
        # consumers start: a test that waited only for the account gave the import's seconds
        # to its own wait for the first dialog.
        workers: KindWorkers | None = getattr(connector, "workers", None)
        async with asyncio.timeout(60):
            while channel_id not in connector.accounts.by_id or (  # type: ignore[attr-defined]
                workers is not None and not workers.running
            ):
                await asyncio.sleep(0.05)
        return channel_id

    async def vk_random_key(self) -> bytes:
        """The key this hub's installation gives VK ``random_id`` values."""
        from connectors.vk.adapter import RANDOM_ID_SECRET
        from core.app_keys import SESSIONS
        from core.installation import installation_secret

        return await installation_secret(self.server.app[SESSIONS], RANDOM_ID_SECRET)


def make_settings(redis_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        redis_url=redis_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'openlines.db'}",
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
        **extra,
    )


async def eventually(check: Any, timeout: float = 10) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while not (result := check()):
            await asyncio.sleep(0.05)
    return result


StartHub = Callable[[Settings], Awaitable[Hub]]
"""The ``start_hub`` fixture: ``await start_hub(settings)`` runs a whole hub until the test ends."""

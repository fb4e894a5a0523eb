"""Migration 0012 fills the stored statistics figures of the dialogs already there, from their
instants and their line's zone and working hours, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import make_engine, upgrade

WEEK = '{"schedule": {"week": {"mon": ["09:00-18:00"]}}}'


@pytest.fixture
async def engine(empty_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(empty_db_url)
    await upgrade(engine, "0011")
    yield engine
    await engine.dispose()


def _at(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2030, 1, 7, hour, minute, second, micro, tzinfo=UTC)  # a Monday


async def test_existing_dialogs_get_their_figures(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"

        def instant(at: datetime | None) -> object:
            if at is None or not sqlite:
                return at
            return at.strftime("%Y-%m-%d %H:%M:%S.%f")

        await conn.execute(
            text(
                "INSERT INTO lines (id, key, name, language, timezone, distribution, settings,"
                " created_at, source) VALUES (1, 'b', 'B', 'en', 'Europe/Berlin', 'evenly',"
                f" '{WEEK}', :now, 'ui'), (2, 'x', 'X', 'en', 'Mars/Olympus', 'evenly', '{{}}',"
                " :now, 'ui')"
            ),
            {"now": instant(_at(0, 0))},
        )
        await conn.execute(
            text(
                "INSERT INTO channels (id, line_id, kind, key, name, config, enabled,"
                " created_at) VALUES (1, 1, 'webchat', 'c', 'C', '{}', true, :now)"
            ),
            {"now": instant(_at(0, 0))},
        )
        await conn.execute(
            text("INSERT INTO clients (id, name, created_at, updated_at) VALUES (1, 'A', :n, :n)"),
            {"n": instant(_at(0, 0))},
        )
        await conn.execute(
            text(
                "INSERT INTO client_identities (id, client_id, channel_id, external_id,"
                " display_name, created_at) VALUES (1, 1, 1, 'u', 'A', :n)"
            ),
            {"n": instant(_at(0, 0))},
        )
        dialogs = [
            # 08:50:00.5 Berlin, answered at 09:05:01.4 (301.4 s of working time), closed.
            (1, 1, _at(7, 50, 0, 500_000), _at(8, 5, 1, 400_000), _at(8, 35, 0, 500_000)),
            # Unknown zone: UTC, always open; never answered, still open.
            (2, 2, _at(23, 59, 59, 999_999), None, None),
        ]
        for dialog_id, line_id, opened, first, closed in dialogs:
            await conn.execute(
                text(
                    "INSERT INTO dialogs (id, line_id, channel_id, client_id, identity_id,"
                    " status, opened_at, first_response_at, closed_at, last_message_at,"
                    " client_messages, operator_messages, offer_round) VALUES (:id, :line, 1,"
                    " 1, 1, 'open', :opened, :first, :closed, :opened, 0, 0, 0)"
                ),
                {
                    "id": dialog_id,
                    "line": line_id,
                    "opened": instant(opened),
                    "first": instant(first),
                    "closed": instant(closed),
                },
            )
    await upgrade(engine)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT first_response_s, business_frt_s, duration_s, opened_day,"
                    " opened_weekday, opened_hour FROM dialogs ORDER BY id"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (900, 301, 2700, "2030-01-07", 0, 8),
        (None, None, None, "2030-01-07", 0, 23),
    ]

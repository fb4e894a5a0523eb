"""Migrations and constraints on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import SessionMaker, at_head, make_engine, make_sessionmaker, upgrade
from core.db.email_schema import EmailMail
from core.db.migrate import alembic_config, known_heads
from core.db.schema import Client, ClientIdentity, Dialog, Message
from tests.support.client_seed import SeededClient, seed_client


@pytest.fixture
async def engine(empty_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(empty_db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def test_migrations_create_the_schema_and_are_idempotent(engine: AsyncEngine) -> None:
    await upgrade(engine)  # a second run is a no-op
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert {
        "lines",
        "channels",
        "operators",
        "line_operators",
        "clients",
        "client_identities",
        "dialogs",
        "messages",
        "console_sessions",
        "alembic_version",
    } <= tables


async def _seed(engine: AsyncEngine) -> tuple[int, int]:
    seeded = await seed_client(make_sessionmaker(engine))
    return seeded.channel_id, seeded.client_id


async def test_identity_is_unique_per_channel_account_and_external_id(engine: AsyncEngine) -> None:
    channel_id, client_id = await _seed(engine)
    sessions = make_sessionmaker(engine)
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            s.add(ClientIdentity(client_id=client_id, channel_id=channel_id, external_id="u1"))


async def test_message_is_unique_per_channel_and_platform_id(engine: AsyncEngine) -> None:
    channel_id, client_id = await _seed(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s, s.begin():
        identity = await s.scalar(select(ClientIdentity))
        assert identity is not None
        dialog = Dialog(
            line_id=1, channel_id=channel_id, client_id=client_id, identity_id=identity.id
        )
        s.add(dialog)
        await s.flush()
        s.add(
            Message(
                dialog_id=dialog.id,
                channel_id=channel_id,
                author="client",
                text="a",
                external_id="m1",
            )
        )
        # Messages without a platform id (operator replies) never collide with each other.
        s.add(Message(dialog_id=dialog.id, channel_id=channel_id, author="operator", text="b"))
        s.add(Message(dialog_id=dialog.id, channel_id=channel_id, author="operator", text="c"))
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            s.add(
                Message(
                    dialog_id=dialog.id,
                    channel_id=channel_id,
                    author="client",
                    text="a",
                    external_id="m1",
                )
            )


async def test_timestamps_come_back_timezone_aware(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with make_sessionmaker(engine)() as s:
        client = await s.scalar(select(Client))
        assert client is not None and client.created_at.tzinfo is not None


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    """A model changed without a migration (or the reverse) shows up here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db.schema import Base
    from core.db.search_schema import include_object

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_a_start_at_the_heads_needs_no_upgrade_and_any_other_revision_does(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    from alembic.script import ScriptDirectory

    # The heads read from the files' revision lines are Alembic's own.
    assert known_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert await at_head(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not await at_head(engine)  # behind: the start upgrades it
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert not await at_head(engine)  # newer than this version: the start refuses it
    empty = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        assert not await at_head(empty)
    finally:
        await empty.dispose()


INT32_MAX = 2**31 - 1


async def _message(sessions: SessionMaker, seeded: SeededClient, body: str) -> int:
    async with sessions() as s, s.begin():
        dialog = Dialog(
            line_id=seeded.line_id,
            channel_id=seeded.channel_id,
            client_id=seeded.client_id,
            identity_id=seeded.identity_id,
        )
        s.add(dialog)
        await s.flush()
        message = Message(
            dialog_id=dialog.id, channel_id=seeded.channel_id, author="client", text=body
        )
        s.add(message)
        await s.flush()
        return message.id


async def _next_message_id_past_int32(engine: AsyncEngine, seeded: SeededClient) -> None:
    """The next message takes an id above INT32_MAX, as after 2^31 messages."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(
                text("SELECT setval(pg_get_serial_sequence('messages', 'id'), :last)"),
                {"last": INT32_MAX},
            )
        return
    # SQLite gives a new row the largest rowid plus one.
    sessions = make_sessionmaker(engine)
    last = await _message(sessions, seeded, "the last 32-bit id")
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE messages SET id = :last WHERE id = :id"), {"last": INT32_MAX, "id": last}
        )


async def _pg_id_types(engine: AsyncEngine) -> dict[str, tuple[str, str]]:
    """Each growing table's id column type and its sequence's type, on PostgreSQL."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.table_name, c.data_type, s.data_type FROM information_schema.columns c"
                " JOIN information_schema.sequences s"
                " ON s.sequence_name = c.table_name || '_id_seq'"
                " WHERE c.column_name = 'id'"
                " AND c.table_name IN ('messages', 'webhook_deliveries', 'routing_audit')"
            )
        )
        return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


async def test_message_ids_go_past_32_bits_after_the_upgrade_keeping_every_message(
    empty_db_url: str,
) -> None:
    """A database from before message ids had 64 bits, with messages in it: they are kept, and
    new messages, and the mail that refers to one, take ids past 2^31 - 1. PostgreSQL's INTEGER
    id (and its sequence) stopped there, and with it every message stored after."""
    engine = make_engine(empty_db_url)
    try:
        await upgrade(engine, "0024")
        sessions = make_sessionmaker(engine)
        seeded = await seed_client(sessions)
        before = await _message(sessions, seeded, "before the upgrade")
        await upgrade(engine)
        await _next_message_id_past_int32(engine, seeded)
        after = await _message(sessions, seeded, "past 32 bits")
        assert after > INT32_MAX
        async with sessions() as s, s.begin():
            s.add(
                EmailMail(
                    channel_id=seeded.channel_id,
                    rfc_message_id="<reply@hub>",
                    direction="out",
                    message_id=after,
                )
            )
        async with sessions() as s:
            stored = {m.id: m.text for m in await s.scalars(select(Message))}
            mail = await s.scalar(select(EmailMail.message_id))
        assert stored[before] == "before the upgrade"
        assert stored[after] == "past 32 bits"
        assert mail == after
        if engine.dialect.name == "postgresql":
            assert await _pg_id_types(engine) == {
                "messages": ("bigint", "bigint"),
                "webhook_deliveries": ("bigint", "bigint"),
                "routing_audit": ("bigint", "bigint"),
            }
    finally:
        await engine.dispose()

"""The console's dialog reads on the held SQLite connection, and on PostgreSQL's asyncpg pool,
give what the session's reads give: the same views of the same dialogs to the same people, for
dialogs in every state; and where they cannot read (SQLite busy), they say so rather than wait
on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audience import visible_dialogs
from core.db import SessionMaker
from core.db.routing_schema import DialogOffer, DialogParticipant
from core.db.schema import Dialog, Message, Operator
from core.envelope import utcnow
from operator_console import dialog_reads
from operator_console.dialog_reads import (
    LIST_STATUSES,
    DialogWithMessages,
    list_json,
    listed,
    one_dialog,
    read_dialog,
    read_list,
)
from operator_console.dialog_status import NOT_HERE, DialogStatusReader, NotHere
from operator_console.dialog_status_pg import Read
from operator_console.dialog_views import dialog_query, dialog_views, dialog_with_messages
from tests.support.console_world import World, add_dialog, make_world
from tests.support.router_db import drop_other_connections, seeded_database


async def _varied(sessions: SessionMaker, world: World) -> list[int]:
    """Beside the world's two dialogs: one waiting with offers (one pending, one ended) and a
    colleague; one with a greeting, a hidden note, an answered message with a file and its
    delivery; one closed with a rating; one with no message at all."""
    at = utcnow() - timedelta(minutes=30)
    waiting, _ = await add_dialog(
        sessions,
        world.ids["sales_tg"],
        world.sales_line,
        "Eva",
        ["hello?"],
        operator_id=None,
        status="waiting",
        at=at,
    )
    talked, _ = await add_dialog(
        sessions, 1, world.demo_line, "", ["where is it"], operator_id=world.ids["olga"], at=at
    )
    rated, _ = await add_dialog(
        sessions,
        1,
        world.demo_line,
        "Rita",
        ["thanks"],
        operator_id=world.ids["olga"],
        status="closed",
        at=at,
    )
    silent, _ = await add_dialog(
        sessions, 1, world.demo_line, "Quiet", [], operator_id=None, status="waiting", at=at
    )
    later = at + timedelta(minutes=5)

    def olgas(text: str, **more: Any) -> Message:
        olga = world.ids["olga"]
        return Message(dialog_id=talked, channel_id=1, author="operator", author_name="Olga",
                       operator_id=olga, text=text, created_at=later, **more)  # fmt: skip

    async with sessions() as s, s.begin():
        s.add_all(
            [
                *(
                    DialogOffer(
                        dialog_id=waiting,
                        operator_id=world.ids[login],
                        round=1,
                        offered_at=at,
                        answer_by=later,
                        state=state,
                    )
                    for login, state in (("petr", "pending"), ("mara", "declined"))
                ),
                DialogParticipant(dialog_id=waiting, operator_id=world.ids["olga"]),
                olgas(
                    "Here it is",
                    attachments=[
                        {
                            "kind": "image",
                            "name": "map.png",
                            "url": "/api/attachments/1",
                            "mime": "image/png",
                            "size": 10,
                        }
                    ],
                    delivery_status="delivered",
                ),
                olgas("(checked)", hidden=True),
                Message(
                    dialog_id=talked,
                    channel_id=1,
                    author="system",
                    author_name="Demo",
                    text="We answer within the hour",
                    created_at=later,
                ),
            ]
        )
        await s.execute(
            update(Dialog)
            .where(Dialog.id == rated)
            .values(
                rating=5,
                rating_comment="Quick",
                outcome="answered",
                closed_at=later,
                first_response_at=later,
                began_in_hours=False,
            )
        )
    return [waiting, talked, rated, silent]


async def _through_session(
    session: AsyncSession, dialog_id: int, operator: Operator
) -> DialogWithMessages | None:
    query = dialog_query().where(Dialog.id == dialog_id)
    rule = visible_dialogs(operator.id, operator.role)
    return await dialog_with_messages(session, query if rule is None else query.where(rule))


def _dumped(found: DialogWithMessages | NotHere | None) -> Any:
    assert found is not NOT_HERE  # read without the session, not through it
    if found is None:
        return None
    assert isinstance(found, DialogWithMessages)
    messages = [m.model_dump(mode="json") for m in found.messages]
    return found.dialog.model_dump(mode="json"), messages, found.earlier


async def test_the_held_reads_give_the_sessions_views_to_everyone(db_url: str) -> None:
    engine, sessions = await seeded_database(db_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        varied = await _varied(sessions, world)
        async with sessions() as session:
            people = list(await session.scalars(select(Operator).order_by(Operator.id)))
        assert {p.role for p in people} == {"admin", "operator", "manager"}
        seen = 0
        for operator in people:
            for dialog_id in [*world.dialogs.values(), *varied, 10**6]:
                held = await read_dialog(reader, dialog_id, operator.id, operator.role)
                assert held is not NOT_HERE  # read without the session, not through it
                async with sessions() as session:
                    expected = await _through_session(session, dialog_id, operator)
                assert _dumped(held) == _dumped(expected), (operator.login, dialog_id)
                if isinstance(held, DialogWithMessages):
                    # The answer's JSON, serialized in one call, says what the views say.
                    dialog, messages, _ = _dumped(held)
                    answer = {"dialog": dialog, "messages": messages, "earlier": held.earlier}
                    assert orjson.loads(held.json()) == answer
                seen += held is not None
            for status in LIST_STATUSES:
                listed_here = await read_list(reader, status, operator.id, operator.role)
                assert listed_here is not NOT_HERE
                query = dialog_query()
                rule = visible_dialogs(operator.id, operator.role)
                async with sessions() as session:
                    views = await dialog_views(
                        session, listed(query if rule is None else query.where(rule), status)
                    )
                dumped = [v.model_dump(mode="json") for v in views]
                assert [v.model_dump(mode="json") for v in listed_here] == dumped
                assert orjson.loads(list_json(listed_here)) == {"dialogs": dumped}
        assert 0 < seen < len(people) * 7  # each sees some dialogs, nobody sees all
        admin = next(p for p in people if p.role == "admin")
        talked = await read_dialog(reader, varied[1], admin.id, admin.role)
        assert isinstance(talked, DialogWithMessages)
        # The preview is the conversation's last message, not the line's notice after it.
        assert talked.dialog.last_message is not None
        assert talked.dialog.last_message.text == "(checked)"
        assert [m.author for m in talked.messages] == ["client", "operator", "operator", "system"]
        assert talked.messages[1].attachments[0].name == "map.png"
        assert talked.dialog.client_name.startswith("Client #")  # a client with no name
    finally:
        await reader.close()
        await engine.dispose()


async def test_a_busy_database_sends_the_read_elsewhere_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    """As the replies' read (tests/operator_console/test_dialog_status.py): the loop's
    connection is pointed at a rollback-journal file that another connection holds
    exclusively, and the read gives up at once instead of waiting on the loop."""
    engine, _sessions = await seeded_database(sqlite_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    locker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        admin_reads = await read_list(reader, "all", 1, "admin")
        assert admin_reads == []  # the seed has no dialogs, and it was read here
        locker.execute("CREATE TABLE dialogs (id INTEGER)")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("INSERT INTO dialogs VALUES (1)")
        assert reader._on_loop is not None
        reader._on_loop.close()
        reader._on_loop = sqlite3.connect(tmp_path / "locked.db", timeout=0, isolation_level=None)

        async def count(read: Read) -> list[Any]:
            return await read(select(Dialog.id), {})

        started = time.perf_counter()
        assert await reader.snapshot(count) is NOT_HERE
        assert time.perf_counter() - started < 0.5
        assert await read_dialog(reader, 1, 1, "admin") is NOT_HERE
        locker.execute("COMMIT")
        assert await reader.snapshot(count) == [(1,)]  # the lock gone, read here again
    finally:
        locker.close()
        await reader.close()
        await engine.dispose()


def test_each_role_s_statement_is_built_once() -> None:
    assert one_dialog("operator") is one_dialog("operator")
    assert one_dialog("operator") is not one_dialog("manager")


def _a_word(dialog_id: int) -> Message:
    return Message(
        dialog_id=dialog_id, channel_id=1, author="client", text="one more", created_at=utcnow()
    )


async def test_a_postgres_snapshot_does_not_see_a_commit_made_during_it(postgres_url: str) -> None:
    """Its statements run in one REPEATABLE READ transaction: a message committed between two
    of them is in neither, and in the next read."""
    engine, sessions = await seeded_database(postgres_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        olgas = world.dialogs["olga"]
        count = select(func.count(Message.id)).where(Message.dialog_id == olgas)

        async def with_a_commit_between(read: Read) -> tuple[Any, Any]:
            before = await read(count, {})
            async with sessions() as session, session.begin():
                session.add(_a_word(olgas))
            return before, await read(count, {})

        seen = await reader.snapshot(with_a_commit_between)
        assert seen is not NOT_HERE
        before, after = seen
        assert before == after
        found = await read_dialog(reader, olgas, world.ids["olga"], "operator")
        assert isinstance(found, DialogWithMessages)
        assert len(found.messages) == before[0][0] + 1
        assert found.messages[-1].text == "one more"
    finally:
        await reader.close()
        await engine.dispose()


async def test_a_postgres_read_survives_the_database_dropping_its_connections(
    postgres_url: str,
) -> None:
    engine, sessions = await seeded_database(postgres_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        expected = _dumped(await read_dialog(reader, world.dialogs["olga"], 1, "admin"))
        assert await drop_other_connections(engine) >= 1  # the reads' pooled one among them
        assert _dumped(await read_dialog(reader, world.dialogs["olga"], 1, "admin")) == expected
    finally:
        await reader.close()
        await engine.dispose()


async def test_held_sqlite_reads_that_would_wait_are_refused(sqlite_url: str) -> None:
    """On the loop nothing may come between a snapshot's statements: reads that await
    something else are stopped, and the held connection is left out of its transaction."""
    engine, sessions = await seeded_database(sqlite_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        count = select(func.count(Message.id))

        async def waiting(read: Read) -> list[Any]:
            await read(count, {})
            await asyncio.sleep(0)
            return await read(count, {})

        with pytest.raises(RuntimeError, match="waited"):
            await reader.snapshot(waiting)
        async with sessions() as session, session.begin():
            session.add(_a_word(world.dialogs["olga"]))
        found = await read_dialog(reader, world.dialogs["olga"], 1, "admin")
        assert isinstance(found, DialogWithMessages)
        assert found.messages[-1].text == "one more"  # a new snapshot, not the stopped one's
    finally:
        await reader.close()
        await engine.dispose()


async def test_a_dialog_reads_its_newest_page_and_says_there_is_more(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three messages a page: a dialog of five gives its newest three and ``earlier``; one of
    three gives all and no ``earlier``. Where the page holds only the line's notices, the
    preview is still the conversation's last message, from before the page. Both reads, the
    session's and the one without it, say the same."""
    monkeypatch.setattr(dialog_reads, "THREAD_PAGE", 3)
    engine, sessions = await seeded_database(db_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        at = utcnow() - timedelta(hours=2)

        def dialog(name: str, texts: list[str]) -> Any:
            return add_dialog(sessions, 1, world.demo_line, name, texts, operator_id=None, at=at)

        five, _ = await dialog("Five", [f"m{n}" for n in range(5)])
        three, _ = await dialog("Three", ["a", "b", "c"])
        notices, _ = await dialog("Notices", ["spoken"])
        async with sessions() as session, session.begin():
            for n in range(3):
                notice = f"notice {n}"
                session.add(Message(dialog_id=notices, channel_id=1, author="system", text=notice))
        admin = Operator(id=1, login="admin", role="admin")
        async with sessions() as session:
            for dialog_id in (five, three, notices):
                expected = await _through_session(session, dialog_id, admin)
                held = await read_dialog(reader, dialog_id, 1, "admin")
                assert _dumped(held) == _dumped(expected), dialog_id
        pages = {}
        for dialog_id in (five, three, notices):
            found = await read_dialog(reader, dialog_id, 1, "admin")
            assert isinstance(found, DialogWithMessages)
            pages[dialog_id] = found
        assert [m.text for m in pages[five].messages] == ["m2", "m3", "m4"]
        assert pages[five].earlier and orjson.loads(pages[five].json())["earlier"] is True
        assert [m.text for m in pages[three].messages] == ["a", "b", "c"]
        assert not pages[three].earlier
        assert [m.author for m in pages[notices].messages] == ["system"] * 3
        assert pages[notices].earlier
        last = pages[notices].dialog.last_message
        assert last is not None and last.text == "spoken"
    finally:
        await reader.close()
        await engine.dispose()

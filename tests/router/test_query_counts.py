"""Query counts of the message path: what a batch of client messages and an operator's reply
cost in SQL statements. docs/BENCHMARKS.md explains why the count is what matters: each
statement costs about half a millisecond of Python, whatever it reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.listening import listening
from core.db.routing_schema import RoutingAudit
from core.db.schema import Client, ClientIdentity, Dialog, Message, Operator
from core.db.writer import DbWriter
from core.envelope import (
    DeliveryOutcome,
    InboundMessage,
    OperatorReply,
    OutboundMessage,
    PresenceChange,
    RouterInput,
    decode,
)
from core.integration_events import carried
from operator_console.auth import SessionCache, do_create_session, do_end_session
from router.statements import REPLY_PAIRS_PAGE, pair_params, pair_slots
from router.worker import Router
from tests.support.querycount import count_queries, count_round_trips
from tests.support.router_db import demo_ids, seeded_database
from tests.support.stream_entries import stream_entries

OUTBOUND = streams.outbound("webchat")

BATCH_STATEMENTS = 8
"""A batch of client messages to dialogs already open, whatever its size: the line setup's
version, 2 reads of what the batch needs (stored ids; identities with their dialogs), one
INSERT of every message and one UPDATE of every dialog's counters, one upsert of the
statistics' daily rollup (the dialogs' message counts), offers and participants set-wise. It
was ~9 per message before the set-wise reads of router/reads.py, 13 while every batch read its
channel, the line's policy (2), supervisors and line members again instead of keeping them
until the setup changes, and 9 while identities and their dialogs were two reads."""

REPLY_STATEMENTS = 12
"""An operator's reply in a dialog they hold, in the router (one of them the rollup's
upsert). It was 13 while the reply read a snapshot of the dialog's offers it did not use."""

INBOUND_ROUND_TRIPS = 5
"""PostgreSQL: a lone batch of a client message to an open dialog, in answers from the server
(``count_round_trips``): the transaction's ``BEGIN`` (sent with the first reads, not waited
for), the setup's version with the stored-message check and the identities, the counters with
the ``INSERT`` and the dialog's offers and participants, the statistics' rollup, the
``COMMIT``. It was 8 while the setup's version, the counters and the reads after the
``INSERT`` went each alone."""

REPLY_ROUND_TRIPS = 5
"""PostgreSQL: a lone operator's reply in a dialog they hold (not its first), in answers from
the server: the ``BEGIN``, one for the setup's version, the dialog, its identity and
participants, the operator and the repeat check, then the counters with the ``INSERT``, the
rollup and the ``COMMIT``. It was 10 while the dialog, the setup's version, the participants
and the counters went each alone."""

NEW_DIALOG_ROUND_TRIPS = 11
"""PostgreSQL: a lone first message of a new client, routed to an operator at once, in answers
from the server: the ``BEGIN`` and the first reads as above; the client, its identity, the
dialog and the message, each ``INSERT`` needing the one before; the line's queue; the
operators' rows locked with their held dialogs and pending offers; the assignment; the audit
with the rollup; the ``COMMIT``. It was 13 while the lock and the audit went each alone."""


@dataclass
class Hub:
    engine: AsyncEngine
    sessions: SessionMaker
    router: Router
    channel_id: int
    admin_id: int


@pytest.fixture
async def hub(db_url: str, redis_url: str) -> AsyncIterator[Hub]:
    async with hub_on(db_url, redis_url) as running:
        yield running


@pytest.fixture
async def pg_hub(postgres_url: str, redis_url: str) -> AsyncIterator[Hub]:
    """On PostgreSQL, with the router's writer as the hub runs it (psycopg, on its thread)."""
    writer = DbWriter(postgres_url)
    try:
        async with hub_on(postgres_url, redis_url, writer) as running:
            yield running
    finally:
        writer.close()


@asynccontextmanager
async def hub_on(db_url: str, redis_url: str, writer: DbWriter | None = None) -> AsyncIterator[Hub]:
    engine, sessions = await seeded_database(db_url)
    channel_id, admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    clock = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # a Monday noon: every schedule is open
    router = Router(sessions, Bus(client), lambda: clock, writer)
    try:
        yield Hub(engine, sessions, router, channel_id, admin_id)
    finally:
        await client.aclose()
        await engine.dispose()


def inbound(hub: Hub, client: int, n: int) -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=hub.channel_id,
        external_user_id=f"visitor-{client}",
        external_message_id=f"m-{client}-{n}",
        client_msg_id=f"c{n}",
        text=f"message {n}",
        echo=True,  # the demo channel is a web chat, whose connector stamps this
    )
    return Delivery(streams.inbound(0), f"{client}-{n}", msg)


async def send_round(hub: Hub, clients: int, per_client: int, first: int) -> int:
    """One batch: ``per_client`` messages from each client, interleaved; its statement count."""
    batch = [inbound(hub, c, first + k) for k in range(per_client) for c in range(clients)]
    with count_queries(hub.engine) as seen:
        await hub.router.handle(batch)
    return len(seen)


async def held_dialogs(hub: Hub, clients: int) -> list[int]:
    """The admin online, then a message from each client: their dialogs, held by the admin
    at once, by id."""
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online)])
    await send_round(hub, clients=clients, per_client=1, first=0)
    async with hub.sessions() as session:
        return sorted((await session.scalars(select(Dialog.id))).all())


async def test_a_batch_of_client_messages_costs_a_bounded_number_of_statements(hub: Hub) -> None:
    await send_round(hub, clients=10, per_client=1, first=0)  # opens the ten dialogs
    small = await send_round(hub, clients=10, per_client=1, first=1)
    with count_queries(hub.engine) as seen:
        await hub.router.handle([inbound(hub, c, 2 + k) for k in range(4) for c in range(10)])
    assert len(seen) <= BATCH_STATEMENTS, seen.report()
    assert len(seen) == small, "the count must not grow with the batch:\n" + seen.report()
    async with hub.sessions() as session:
        stored = (await session.scalars(select(Message).order_by(Message.id))).all()
        dialogs = (await session.scalars(select(Dialog))).all()
    assert len(stored) == 60 and len(dialogs) == 10
    mine = [m.external_id for m in stored if m.external_id and m.external_id.startswith("m-3-")]
    assert mine == [f"m-3-{n}" for n in range(6)]  # one client's messages in their order
    assert {d.client_messages for d in dialogs} == {6}


async def test_a_repeated_batch_stores_nothing_again(hub: Hub) -> None:
    await send_round(hub, clients=5, per_client=1, first=0)
    batch = [inbound(hub, c, 1) for c in range(5)]
    await hub.router.handle(batch)
    await hub.router.handle(batch)  # the bus delivers at least once
    await hub.router.handle([*batch, *batch])  # and a batch may hold a repeat
    async with hub.sessions() as session:
        count = len((await session.scalars(select(Message))).all())
    assert count == 10


async def test_an_operator_reply_costs_a_bounded_number_of_statements(hub: Hub) -> None:
    [dialog_id] = await held_dialogs(hub, clients=1)
    replies: list[Delivery[RouterInput]] = [
        Delivery(
            streams.COMMANDS,
            f"r{n}",
            OperatorReply(
                dialog_id=dialog_id, operator_id=hub.admin_id, client_msg_id=f"r{n}", text="hi"
            ),
        )
        for n in range(3)
    ]
    await hub.router.handle(replies[:1])
    with count_queries(hub.engine) as seen:
        await hub.router.handle(replies[1:2])
    assert len(seen) <= REPLY_STATEMENTS, seen.report()


async def test_lone_batches_on_postgresql_wait_for_few_answers(pg_hub: Hub, tmp_path: Path) -> None:
    """Statements that need nothing from each other's rows go in one pipeline: the server's
    answers to a lone client message, a lone reply and a new client's first message
    (``count_round_trips``)."""
    hub = pg_hub
    with count_round_trips(tmp_path / "trace") as round_trips:
        # Traced from before the first batch, which connects the router's writer.
        [dialog_id] = await held_dialogs(hub, clients=1)
        await hub.router.handle([inbound(hub, 0, 1)])  # the setup read, as batches go on
        await hub.router.handle([reply(hub, dialog_id, "r1")])  # the dialog's first response
        before = round_trips()
        await hub.router.handle([inbound(hub, 0, 2)])
        message = round_trips() - before
        await hub.router.handle([reply(hub, dialog_id, "r2")])
        answer = round_trips() - before - message
        await hub.router.handle([inbound(hub, 1, 0)])  # a new client
        opening = round_trips() - before - message - answer
    assert (message, answer, opening) == (
        INBOUND_ROUND_TRIPS,
        REPLY_ROUND_TRIPS,
        NEW_DIALOG_ROUND_TRIPS,
    )
    async with hub.sessions() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
        held = (await session.scalars(select(Dialog.operator_id).order_by(Dialog.id))).all()
    assert texts == ["message 0", "message 1", "hi", "message 2", "hi", "message 0"]
    assert held == [hub.admin_id, hub.admin_id]


async def test_the_console_reads_a_session_once_until_it_ends(hub: Hub) -> None:
    token = await do_create_session(hub.sessions, hub.admin_id, hours=1)
    cache = SessionCache(hub.sessions)
    with count_queries(hub.engine) as seen:
        first = await cache.operator(token)
        again = await cache.operator(token)
    assert first is not None and again is first
    assert len(seen) == 1, seen.report()
    await do_end_session(cache, token)
    assert await cache.operator(token) is None  # logout is seen at once


def reply(hub: Hub, dialog_id: int, cid: str) -> Delivery[RouterInput]:
    msg = OperatorReply(dialog_id=dialog_id, operator_id=hub.admin_id, client_msg_id=cid, text="hi")
    return Delivery(streams.COMMANDS, cid, msg)


async def test_a_batch_of_replies_costs_what_one_reply_costs(hub: Hub) -> None:
    ids = await held_dialogs(hub, clients=5)
    await hub.router.handle([reply(hub, i, f"warm-{i}") for i in ids])
    with count_queries(hub.engine) as alone:
        await hub.router.handle([reply(hub, ids[0], "alone")])
    batch = [reply(hub, i, f"batch-{i}") for i in ids]
    with count_queries(hub.engine) as seen:
        await hub.router.handle([*batch, batch[0]])  # a repeat inside the batch
    # The run reads, stores and counts set-wise: it costs what one reply alone costs (it was
    # six statements more per reply while each reply was flushed on its own).
    assert len(seen) == len(alone), seen.report()
    async with hub.sessions() as session:
        texts = (await session.scalars(select(Message.client_msg_id))).all()
    assert sorted(t for t in texts if t and t.startswith("batch-")) == sorted(
        f"batch-{i}" for i in ids
    )


async def test_replies_past_one_probe_find_each_repeat(hub: Hub) -> None:
    ids = await held_dialogs(hub, clients=3)
    count = REPLY_PAIRS_PAGE + 5  # two probes for the stored ones: a full page and a short one
    batch = [reply(hub, ids[n % 3], f"many-{n}") for n in range(count)]
    await hub.router.handle(batch[: count - 1])
    with count_queries(hub.engine) as seen:
        await hub.router.handle(batch)  # every reply again, the last one new
    # One probe per page of pairs, not one per reply.
    probes = [s for s in seen if "client_msg_id = " in s and "OR" in s]
    assert len(probes) == 2, seen.report()
    async with hub.sessions() as session:
        stored = (await session.scalars(select(Message.client_msg_id))).all()
        dialogs = (await session.scalars(select(Dialog).order_by(Dialog.id))).all()
    many = sorted(c for c in stored if c and c.startswith("many-"))
    assert many == sorted(f"many-{n}" for n in range(count))
    assert [d.operator_messages for d in dialogs] == [45, 44, 44]


def test_a_probe_fills_its_slots_with_its_last_pair() -> None:
    assert [pair_slots(n) for n in (1, 2, 3, 5, 64, 65, REPLY_PAIRS_PAGE)] == [
        1, 2, 4, 8, 64, 128, REPLY_PAIRS_PAGE
    ]  # fmt: skip
    assert pair_params([(7, "a"), (9, "b"), (9, "c")]) == {
        "dialog_0": 7, "client_0": "a", "dialog_1": 9, "client_1": "b",
        "dialog_2": 9, "client_2": "c", "dialog_3": 9, "client_3": "c",
    }  # fmt: skip


async def test_a_run_of_replies_with_a_take_in_it_keeps_its_order(hub: Hub, redis_url: str) -> None:
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online)])
    await send_round(hub, clients=2, per_client=1, first=0)
    async with hub.sessions() as session, session.begin():
        held, waiting = (await session.scalars(select(Dialog).order_by(Dialog.id))).all()
        waiting.operator_id, waiting.status = None, "waiting"  # as if nobody had taken it
        ids = held.id, waiting.id
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    before = {fields["data"] for _id, fields in await stream_entries(client, OUTBOUND)}
    run = [reply(hub, ids[0], "a1"), reply(hub, ids[1], "b1"), reply(hub, ids[0], "a1"),
           reply(hub, ids[0], "a2")]  # fmt: skip
    await hub.router.handle(run)
    sent = [
        decode(fields["data"])
        for _id, fields in await stream_entries(client, OUTBOUND)
        if fields["data"] not in before
    ]
    await client.aclose()
    # Each reply goes out in the run's order, the repeat again (the outbound side drops it).
    assert [(m.dialog_id, m.client_msg_id) for m in sent if isinstance(m, OutboundMessage)] == [
        (ids[0], "a1"), (ids[1], "b1"), (ids[0], "a1"), (ids[0], "a2")
    ]  # fmt: skip
    async with hub.sessions() as session:
        dialogs = {d.id: d for d in await session.scalars(select(Dialog))}
        stored = (await session.scalars(select(Message).where(Message.author == "operator"))).all()
    assert sorted((m.dialog_id, m.client_msg_id) for m in stored) == [
        (ids[0], "a1"), (ids[0], "a2"), (ids[1], "b1")
    ]  # fmt: skip
    assert dialogs[ids[1]].operator_id == hub.admin_id  # the reply took the waiting dialog
    assert [dialogs[i].operator_messages for i in ids] == [2, 1]
    assert all(dialogs[i].first_response_at is not None for i in ids)


async def test_a_reply_delivered_again_later_goes_out_again_as_the_stored_one(
    hub: Hub, redis_url: str
) -> None:
    [dialog_id] = await held_dialogs(hub, clients=1)
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    before = {fields["data"] for _id, fields in await stream_entries(client, OUTBOUND)}
    await hub.router.handle([reply(hub, dialog_id, "once")])
    await hub.router.handle([reply(hub, dialog_id, "other"), reply(hub, dialog_id, "once")])
    sent = [
        decode(fields["data"])
        for _id, fields in await stream_entries(client, OUTBOUND)
        if fields["data"] not in before
    ]
    await client.aclose()
    async with hub.sessions() as session:
        stored = (await session.scalars(select(Message).where(Message.author == "operator"))).all()
        dialog = await session.get(Dialog, dialog_id)
    assert sorted(m.client_msg_id or "" for m in stored) == ["once", "other"]
    once = next(m.id for m in stored if m.client_msg_id == "once")
    out = [(m.client_msg_id, m.message_id) for m in sent if isinstance(m, OutboundMessage)]
    assert out == [("once", once), ("other", out[1][1]), ("once", once)]
    assert dialog is not None and dialog.operator_messages == 2


async def test_batches_that_wait_for_the_router_share_one_transaction(hub: Hub) -> None:
    await send_round(hub, clients=9, per_client=1, first=0)  # opens the nine dialogs
    alone = await send_round(hub, clients=9, per_client=1, first=1)
    # Three shards' batches at once: the first runs alone, the two that waited run as one.
    shards = [[inbound(hub, c, 2) for c in range(s, 9, 3)] for s in range(3)]
    with count_queries(hub.engine) as seen:
        await asyncio.gather(*(hub.router.handle(batch) for batch in shards))
    assert len(seen) == 2 * alone, seen.report()
    async with hub.sessions() as session:
        dialogs = (await session.scalars(select(Dialog))).all()
    assert sorted(d.client_messages for d in dialogs) == [3] * 9


async def test_delivery_reports_between_replies_cost_what_they_cost_after_them(hub: Hub) -> None:
    ids = await held_dialogs(hub, clients=3)
    await hub.router.handle([reply(hub, i, f"first-{i}") for i in ids])
    async with hub.sessions() as session:
        answers = sorted(
            (await session.scalars(select(Message.id).where(Message.author == "operator"))).all()
        )

    def delivered(message_id: int) -> Delivery[RouterInput]:
        outcome = DeliveryOutcome(message_id=message_id, status="delivered")
        return Delivery(streams.COMMANDS, f"d{message_id}", outcome)

    with count_queries(hub.engine) as sorted_batch:
        await hub.router.handle(
            [*(reply(hub, i, f"a-{i}") for i in ids), delivered(answers[0]), delivered(answers[1])]
        )
    # As the connectors publish them: each outcome between the replies that followed it.
    mixed = [reply(hub, ids[0], "b-0"), delivered(answers[2]), reply(hub, ids[1], "b-1"),
             delivered(answers[0]), reply(hub, ids[2], "b-2")]  # fmt: skip
    with count_queries(hub.engine) as seen:
        await hub.router.handle(mixed)
    assert len(seen) <= len(sorted_batch), seen.report()
    async with hub.sessions() as session:
        rows = await session.execute(select(Message.id, Message.delivery_status))
        statuses = {message_id: status for message_id, status in rows}
    assert [statuses[m] for m in answers] == ["delivered"] * 3


NEW_DIALOG_STATEMENTS = 18
"""A first message from a new client, given at once to the operator online: the client, its
identity, the dialog and the message written, the operator's load read (on PostgreSQL under
its lock: one more), the routing audit, the statistics' rollup. It was 35 (36) while the
session let go of what one step read and the next read again: the new client (to show the
dialog) and the operator (to assign it), whose read also flushed the dialog early, so that its
rollup moved twice. Then 29 while it looked for the new identity's dialogs, read the new
dialog's participants three times, and read back the operator and the hours the dialog was
stored without, to move its statistics on assignment; 23 while the statistics read the line
for its clock; 22 while it read the offers of the dialog it had just opened, twice; 20 while
the rollup took the dialog in as nobody's when it was stored, and moved it to its operator's
(an upsert and the delete of the emptied row) when it was assigned."""


async def test_a_new_dialog_reads_back_nothing_the_batch_holds(hub: Hub) -> None:
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online)])
    flushes: list[list[str]] = []

    def note_flush(session: Session, _context: object, _instances: object) -> None:
        flushes.append(sorted(type(o).__name__ for o in [*session.new, *session.dirty]))

    with count_queries(hub.engine) as seen, listening(Session, ("before_flush",), note_flush):
        await hub.router.handle([inbound(hub, 0, 0)])
    # The unit of work never runs: the client, their identity, the dialog, the message and the
    # routing audit are Core INSERTs, the assignment Core UPDATEs (a flush of one row cost
    # several times its statement).
    assert [f for f in flushes if f] == [], flushes
    flat = [" ".join(s.split()) for s in seen]
    assert not [s for s in flat if s.startswith("SELECT clients.")], seen.report()
    # A dialog opened in this batch has nothing stored the batch does not know.
    assert not [
        s for s in flat if s.startswith(("SELECT dialogs.id,", "SELECT max(dialogs.id)"))
    ], seen.report()
    assert not [s for s in flat if "FROM dialog_participants" in s], seen.report()
    assert not [s for s in flat if "FROM dialog_offers WHERE" in s], seen.report()
    # The new dialog's statistics take its line's clock from the router's setup copy.
    assert not [s for s in flat if s.startswith("SELECT lines.")], seen.report()
    # The operators are read again only under their lock (PostgreSQL's FOR NO KEY UPDATE).
    operators = [s for s in flat if s.startswith("SELECT operators.id, operators.login")]
    assert all(s.endswith("FOR NO KEY UPDATE") for s in operators), seen.report()
    assert len(seen) <= NEW_DIALOG_STATEMENTS, seen.report()
    # The rollup is written once, at the commit, with the dialog as its operator's.
    assert len([s for s in flat if s.startswith("INSERT INTO stats_dialog_days")]) == 1
    assert not [s for s in flat if s.startswith("DELETE FROM stats_dialog_days")], seen.report()
    async with hub.sessions() as session:
        dialog = await session.scalar(select(Dialog))
    assert dialog is not None and dialog.operator_id == hub.admin_id


async def test_a_burst_of_new_dialogs_writes_the_statistics_and_audit_once(hub: Hub) -> None:
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online)])
    with count_queries(hub.engine) as seen:
        await hub.router.handle([inbound(hub, c, 0) for c in range(5)])
    flat = [" ".join(s.split()) for s in seen]
    # The five routing steps in one executemany, the five dialogs in one rollup upsert.
    assert len([s for s in flat if s.startswith("INSERT INTO routing_audit")]) == 1, seen.report()
    assert len([s for s in flat if s.startswith("INSERT INTO stats_dialog_days")]) == 1
    # The line's operators and their loads read once: the run counts its own assignments.
    held = [s for s in flat if s.startswith("SELECT dialogs.operator_id, dialogs.line_id")]
    assert len(held) == 1, seen.report()
    async with hub.sessions() as session:
        steps = (
            await session.execute(
                select(RoutingAudit.dialog_id, RoutingAudit.event).order_by(RoutingAudit.id)
            )
        ).all()
        dialogs = (await session.scalars(select(Dialog.id).order_by(Dialog.id))).all()
    # One step for each dialog, written in the order the dialogs were routed.
    assert [d for d, _event in steps] == list(dialogs)
    assert len(dialogs) == 5
    assert {event for _d, event in steps} == {"assign"}


async def test_a_burst_of_new_dialogs_keeps_the_operators_capacity(hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        admin = await session.get(Operator, hub.admin_id)
        assert admin is not None
        admin.max_open_dialogs = 2
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online)])
    # The loads are read once for the run; each assignment counts in the copy.
    await hub.router.handle([inbound(hub, c, 0) for c in range(5)])
    async with hub.sessions() as session:
        rows = (await session.execute(select(Dialog.operator_id, Dialog.status))).all()
    assert sorted(rows, key=str) == sorted(
        [(hub.admin_id, "open")] * 2 + [(None, "waiting")] * 3, key=str
    )


def says(hub: Hub, visitor: str, n: int, name: str = "") -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=hub.channel_id,
        external_user_id=visitor,
        external_message_id=f"{visitor}-{n}",
        client_name=name,
        text=f"{visitor} says {n}",
    )
    return Delivery(streams.inbound(0), f"{n}-0", msg)


async def test_a_batch_of_new_visitors_stores_their_clients_in_two_statements(
    hub: Hub, redis_url: str
) -> None:
    online = PresenceChange(operator_id=hub.admin_id, status="online")
    await hub.router.handle([Delivery(streams.COMMANDS, "p", online), says(hub, "known", 0)])
    batch = [says(hub, "ann", 1), says(hub, "known", 2), says(hub, "bea", 3, name="Bea"),
             says(hub, "ann", 4), says(hub, "cid", 5), says(hub, "dan", 6)]  # fmt: skip
    with count_queries(hub.engine) as seen:
        await hub.router.handle(batch)
    flat = [" ".join(s.split()) for s in seen]
    assert len([s for s in flat if s.startswith("INSERT INTO clients ")]) == 1, seen.report()
    inserts = [s for s in flat if s.startswith("INSERT INTO client_identities ")]
    assert len(inserts) == 1, seen.report()
    async with hub.sessions() as session:
        rows = (
            await session.execute(
                select(ClientIdentity.external_id, Client.id, Client.name)
                .join(Client, Client.id == ClientIdentity.client_id)
                .order_by(ClientIdentity.id)
            )
        ).all()
        said = (
            await session.execute(
                select(Message.external_id, Dialog.client_id)
                .join(Dialog, Dialog.id == Message.dialog_id)
                .order_by(Message.id)
            )
        ).all()
    clients = {visitor: (client_id, name) for visitor, client_id, name in rows}
    # A client each, in the order they first wrote, with the name their first message gave.
    assert list(clients) == ["known", "ann", "bea", "cid", "dan"]
    assert len({client_id for client_id, _name in clients.values()}) == 5
    assert clients["bea"][1] == "Bea"
    # Every message in its sender's dialog, in the order sent.
    sent = [says(hub, "known", 0).payload, *(d.payload for d in batch)]
    assert said == [
        (m.external_message_id, clients[m.external_user_id][0])
        for m in sent
        if isinstance(m, InboundMessage)
    ]
    # Each new client is announced where their first message came, before their dialog.
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await stream_entries(client, streams.EVENTS)
    finally:
        await client.aclose()
    heard = [carried(decode(fields["data"])) for _id, fields in entries]
    assert [
        (hook.event, int(hook.data["client_id"]))
        for hook in heard
        if hook is not None and hook.event in ("client.created", "dialog.opened")
    ] == [
        (event, clients[visitor][0])
        for visitor in ("known", "ann", "bea", "cid", "dan")
        for event in ("client.created", "dialog.opened")
    ]

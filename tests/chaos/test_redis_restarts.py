"""Live pushes survive Redis restarts, with the hub's roles as separate processes.

Console, connectors, router and crm each run as ``openlines run --role …`` against one
PostgreSQL and Debian's redis-server with AOF (``appendfsync always``) on a fixed port. Web-chat
visitors send numbered messages while an admin on the operator socket answers each one. Mid-load
Redis is killed with ``kill -9`` and started again on the same port and data directory; later it
is stopped with ``SHUTDOWN`` and started again. During each outage some sockets are dropped too,
as a flaky network would, and come back asking for what they missed (``after``).

What is counted, from the database once everything has settled:

- *sent*: distinct visitor messages (``client_msg_id``); *stored*: their rows, and *stored
  twice*: rows beyond one per ``client_msg_id``.
- Operator side: the ``message`` frames on the operator socket showing each stored client
  message (by message id). *missing*: stored, never shown; *doubled*: shown by more than one
  frame. The console drops a repeated message id, so a doubled frame would not show twice, but
  it is counted here all the same: the promise is exactly one frame per message.
- Visitor side, for each stored operator reply: the frames that showed it to its visitor, live
  (``message``) or in the ``history`` of a ``welcome`` after a reconnect with ``after``.
  *missing* and *doubled* as above.

All must be 0. The figures are printed for the record (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_engine, make_sessionmaker
from core.db.schema import Message
from tests.support.admin import ADMIN_PASSWORD
from tests.support.chaos_clients import REPLY_PREFIX, ChaosOperator, ChaosVisitor
from tests.support.durable_redis import DurableRedis
from tests.support.roles import Deployment, RoleProcess

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(150)]

ROLES = ("console", "connectors", "router", "crm")
VISITORS = 12
MESSAGES = 20
PACE_S = 0.7
SETTLE_S = 40.0


@dataclass
class Hub:
    """The running processes and where to reach them."""

    redis: DurableRedis
    deployment: Deployment
    roles: dict[str, RoleProcess]

    def base(self, role: str) -> str:
        return self.roles[role].url


@pytest.fixture
async def hub_in_roles(tmp_path: Path, postgres_url: str) -> AsyncIterator[Hub]:
    """Redis, then the console (which migrates the database), then the other roles.

    Started from the event loop's thread, the main one: the kernel ties each child's death
    signal to the thread that started it.
    """
    redis = DurableRedis(tmp_path / "redis")
    deployment = Deployment(tmp_path, redis.url, postgres_url)
    hub = Hub(redis, deployment, {})
    try:
        redis.start()
        hub.roles["console"] = deployment.start("console")
        await deployment.ready(hub.roles["console"])
        hub.roles.update({role: deployment.start(role) for role in ROLES[1:]})
        await deployment.ready(*hub.roles.values())
        yield hub
    finally:
        deployment.stop()
        redis.stop()


async def faults(
    redis: DurableRedis, visitors: list[ChaosVisitor], operator: ChaosOperator, started: float
) -> list[str]:
    """``kill -9`` and a restart, then ``SHUTDOWN`` and a restart; during each outage half of
    the visitors (and, the first time, the operator) lose their socket and come back with
    what they last had. Returns what happened when."""
    done = []

    async def at(t: float, what: str, action: Callable[[], object]) -> None:
        await asyncio.sleep(max(0.0, started + t - time.monotonic()))
        result = action()  # on this thread: a restarted server's death signal follows it
        if inspect.isawaitable(result):
            await result
        done.append(f"{time.monotonic() - started:5.1f} s  {what}")

    def drop(clients: list[ChaosVisitor | ChaosOperator]) -> Callable[[], object]:
        return lambda: asyncio.gather(*(client.drop() for client in clients))

    await at(4.0, "kill -9 redis", redis.kill)
    await at(5.0, "operator and even visitors drop their sockets", drop([operator, *visitors[::2]]))
    await at(6.0, "redis started", redis.start)
    await at(10.0, "SHUTDOWN redis", redis.shutdown)
    await at(11.0, "odd visitors drop their sockets", drop([*visitors[1::2]]))
    await at(12.0, "redis started", redis.start)
    return done


async def stored(database_url: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(id, client_msg_id) of the stored client messages and operator replies."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (await session.execute(
                select(Message.id, Message.author, Message.client_msg_id).order_by(Message.id)
            )).all()  # fmt: skip
    finally:
        await engine.dispose()
    client = [(i, c) for i, a, c in rows if a == "client" and c]
    replies = [(i, c) for i, a, c in rows if a == "operator" and c]
    return client, replies


@dataclass
class Tally:
    """The figures of one run."""

    sent: int
    stored: int
    stored_twice: int
    to_operator: Counter[int]
    to_visitor: Counter[int]
    replies_stored: int
    replies_twice: int
    from_history: int

    @property
    def settled(self) -> bool:
        return (
            self.stored == self.sent
            and self.replies_stored == self.stored
            and not self.missing(self.to_operator)
            and not self.missing(self.to_visitor)
        )

    @staticmethod
    def missing(frames: Counter[int]) -> int:
        return sum(1 for n in frames.values() if n == 0)

    @staticmethod
    def doubled(frames: Counter[int]) -> int:
        return sum(1 for n in frames.values() if n > 1)

    def lines(self) -> list[str]:
        op, vis = self.to_operator, self.to_visitor
        return [
            f"visitor messages: sent {self.sent}, stored {self.stored}, "
            f"stored twice {self.stored_twice}",
            f"  to the operator socket: pushed {len(op) - self.missing(op)}, "
            f"missing {self.missing(op)}, doubled {self.doubled(op)}",
            f"operator replies: stored {self.replies_stored}, stored twice {self.replies_twice}",
            f"  to the visitors: pushed {len(vis) - self.missing(vis)} "
            f"({self.from_history} of them from the database on reconnect), "
            f"missing {self.missing(vis)}, doubled {self.doubled(vis)}",
        ]


async def tally(hub: Hub, visitors: list[ChaosVisitor], operator: ChaosOperator) -> Tally:
    client, replies = await stored(hub.deployment.database_url)
    sent = {cid for v in visitors for cid in v.sent}
    by_visitor = {f"v{v.index}-": v for v in visitors}
    to_visitor: Counter[int] = Counter()
    for message_id, cid in replies:
        visitor = by_visitor[cid.removeprefix(REPLY_PREFIX).split("-")[0] + "-"]
        to_visitor[message_id] = visitor.replies[message_id]
    ours = [(i, c) for i, c in client if c in sent]
    return Tally(
        sent=len(sent),
        stored=len({c for _i, c in ours}),
        stored_twice=len(ours) - len({c for _i, c in ours}),
        to_operator=Counter({i: operator.seen[i] for i, _c in ours}),
        to_visitor=to_visitor,
        replies_stored=len({c for _i, c in replies}),
        replies_twice=len(replies) - len({c for _i, c in replies}),
        from_history=sum(v.from_history for v in visitors),
    )


async def test_every_message_reaches_its_socket_once_across_redis_restarts(
    hub_in_roles: Hub,
) -> None:
    hub = hub_in_roles
    operator = ChaosOperator(hub.base("console"), "admin", ADMIN_PASSWORD)
    await operator.login()
    watching = asyncio.create_task(operator.run())
    visitors = [ChaosVisitor(hub.base("connectors"), i) for i in range(VISITORS)]
    talking = [asyncio.create_task(v.run(MESSAGES, PACE_S)) for v in visitors]
    started = time.monotonic()
    try:
        timeline = await faults(hub.redis, visitors, operator, started)
        deadline = time.monotonic() + SETTLE_S + MESSAGES * PACE_S
        while not (figures := await tally(hub, visitors, operator)).settled:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # room for a late repeat to show up
        figures = await tally(hub, visitors, operator)
    finally:
        for visitor in visitors:
            visitor.stopping.set()
        await asyncio.gather(*talking, return_exceptions=True)
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    tracebacks = {
        role: child.log.read_text(errors="replace").count("Traceback")
        for role, child in hub.roles.items()
    }
    report = [
        *timeline,
        *figures.lines(),
        f"reconnects: operator {operator.connections - 1}, "
        f"visitors {sum(v.connections - 1 for v in visitors)}; "
        f"refused replies {len(operator.refused)}; tracebacks in the logs {tracebacks}",
    ]
    repeats = {i: v.shown_by[i] for v in visitors for i, n in v.replies.items() if n > 1}
    if repeats:
        report.append(f"repeated to visitors (how, connection): {repeats}")
    print("\n" + "\n".join(report))
    assert figures.settled, "\n".join(report)
    assert figures.stored_twice == figures.replies_twice == 0, "\n".join(report)
    assert figures.doubled(figures.to_operator) == 0, "\n".join(report)
    assert figures.doubled(figures.to_visitor) == 0, "\n".join(report)
    assert not operator.refused, operator.refused

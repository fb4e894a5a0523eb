"""The router's CPU per batch, by kind of input and batch size, in this process.

What an idle hub's latency is made of (docs/BENCHMARKS.md, "Where an idle hub's milliseconds
go"): a visitor message alone costs three router batches of its own, its inbound message, the
operator's reply and the reply's delivery report, each with the fixed cost of a batch (a
transaction, the publish; on PostgreSQL the hand-off to the writer's thread) and the
per-statement cost of the ORM. This drives the hub's own ``Router`` with its database writer,
as ``openlines run`` does, on a fresh SQLite database and a Redis of its own, through the hub's
Redis client on the hub's event loop (uvloop), and measures the process's CPU (every thread)
around each ``Router.handle``.

The baseline, measured in the same run, is an empty batch: an empty transaction (on
PostgreSQL with the hand-off to the writer's thread) and nothing to publish, the floor under
every batch. A new dialog, a first message from a client never seen, costs far more than a
message in an open one (a client, its identity, the dialog, routing it); it is measured too,
and so is closing those dialogs again by the admin's command, which keeps the admin's load
level.

    python -m bench.router_batches                  # sizes 1 and 20, 200 rounds each
    python -m bench.router_batches --sizes 1 --rounds 500
    python -m bench.router_batches --sizes 1 --database-url postgresql+asyncpg://…/empty

With ``--database-url`` the router writes to that (empty) database instead of a fresh SQLite
file; the CPU measured is still this process's, not the database server's.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
from pathlib import Path

import uvloop
from sqlalchemy import select

from config.settings import Settings
from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.migrate import upgrade
from core.db.schema import Channel, ClientIdentity, Dialog, Message, Operator
from core.db.writer import DbWriter
from core.envelope import (
    CloseDialog,
    DeliveryOutcome,
    InboundMessage,
    OperatorReply,
    PresenceChange,
    RouterInput,
)
from core.redis_connect import connect
from core.redis_server import EmbeddedRedis
from operator_console.seed import do_seed
from operator_console.serving import settle_heap
from router.worker import Router

KINDS = (
    "empty batch (baseline)",
    "inbound message",
    "operator reply",
    "delivery outcome",
    "new dialog",
    "dialog close",
)


def cpu_s() -> float:
    """CPU time of this process, every thread (the writer's included), to the microsecond
    (``os.times`` counts in clock ticks of 10 ms)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Bench:
    """A seeded database, the router with its writer, and ``size`` dialogs held by the admin."""

    def __init__(
        self, router: Router, lookups: SessionMaker, channel_id: int, admin_id: int
    ) -> None:
        self.router = router
        self.lookups = lookups
        """The bench's own reads, on the hub's async engine: off the writer, not measured."""
        self.channel_id = channel_id
        self.admin_id = admin_id
        self.dialogs: list[int] = []
        self.turn = 0

    def inbound(self, visitor: int) -> Delivery[RouterInput]:
        self.turn += 1
        msg = InboundMessage(
            channel_id=self.channel_id,
            external_user_id=f"visitor-{visitor}",
            external_message_id=f"m-{self.turn}",
            client_msg_id=f"c-{self.turn}",
            text=f"Здравствуйте, вопрос {self.turn}",
            echo=True,
        )
        return Delivery(streams.inbound(0), f"{self.turn}-0", msg)

    def newcomer(self) -> Delivery[RouterInput]:
        """A first message from a client never seen: a new client, identity and dialog."""
        self.turn += 1
        return self.inbound(-self.turn)

    async def closes(self, newcomers: list[Delivery[RouterInput]]) -> list[Delivery[RouterInput]]:
        """The admin's commands that close the newcomers' dialogs (their ids read here, not
        measured); closing them keeps the admin's load level."""
        visitors = [
            d.payload.external_user_id for d in newcomers if isinstance(d.payload, InboundMessage)
        ]
        async with self.lookups() as session:
            ids = list(
                await session.scalars(
                    select(Dialog.id)
                    .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
                    .where(ClientIdentity.external_id.in_(visitors))
                )
            )
        return [
            Delivery(
                streams.COMMANDS, f"x-{i}", CloseDialog(dialog_id=i, operator_id=self.admin_id)
            )
            for i in ids
        ]

    def reply(self, dialog_id: int) -> Delivery[RouterInput]:
        self.turn += 1
        msg = OperatorReply(
            dialog_id=dialog_id,
            operator_id=self.admin_id,
            client_msg_id=f"r-{self.turn}",
            text="Добрый день, отвечаю",
        )
        return Delivery(streams.COMMANDS, f"{self.turn}-0", msg)


async def _timed(router: Router, batch: list[Delivery[RouterInput]]) -> float:
    started = cpu_s()
    await router.handle(batch)
    return cpu_s() - started


async def measure(bench: Bench, size: int, rounds: int) -> dict[str, list[float]]:
    """Per kind, the CPU seconds of each of ``rounds`` batches of ``size`` inputs."""
    router = bench.router
    spent: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        spent[KINDS[0]].append(await _timed(router, []))
        inbound = [bench.inbound(v) for v in range(size)]
        spent[KINDS[1]].append(await _timed(router, inbound))
        replies = [bench.reply(d) for d in bench.dialogs[:size]]
        spent[KINDS[2]].append(await _timed(router, replies))
        wanted = [r.payload.client_msg_id for r in replies if isinstance(r.payload, OperatorReply)]
        async with bench.lookups() as session:
            ids = list(
                await session.scalars(select(Message.id).where(Message.client_msg_id.in_(wanted)))
            )
        outcomes: list[Delivery[RouterInput]] = [
            Delivery(streams.COMMANDS, f"o-{i}", DeliveryOutcome(message_id=i, status="delivered"))
            for i in ids
        ]
        spent[KINDS[3]].append(await _timed(router, outcomes))
        newcomers = [bench.newcomer() for _ in range(size)]
        spent[KINDS[4]].append(await _timed(router, newcomers))
        spent[KINDS[5]].append(await _timed(router, await bench.closes(newcomers)))
    return spent


async def prepare(router: Router, lookups: SessionMaker, size: int) -> Bench:
    """The admin online, and ``size`` visitors with a dialog each, all held by the admin."""
    async with lookups() as session:
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
    assert channel_id is not None and admin_id is not None, "the demo seed is missing"
    bench = Bench(router, lookups, channel_id, admin_id)
    online = PresenceChange(operator_id=admin_id, status="online")
    await router.handle([Delivery(streams.COMMANDS, "0-1", online)])
    await router.handle([bench.inbound(v) for v in range(size)])
    async with lookups() as session:
        dialogs = list(await session.scalars(select(Dialog).order_by(Dialog.id)))
    if len(dialogs) != size or any(d.operator_id != admin_id for d in dialogs):
        raise SystemExit("bench: the dialogs were not all given to the admin")
    bench.dialogs = [d.id for d in dialogs]
    return bench


async def run_size(
    size: int, rounds: int, warmup: int, database_url: str | None = None
) -> dict[str, list[float]]:
    """A fresh database (or the empty one named) and Redis for ``size``; the figures of
    ``rounds`` after ``warmup``."""
    with tempfile.TemporaryDirectory(prefix="openlines-batches-") as tmp:
        redis_server = EmbeddedRedis(Path(tmp) / "redis")
        await redis_server.start()
        url = database_url or f"sqlite+aiosqlite:///{tmp}/hub.db"
        engine = make_engine(url)
        # The hub's own client (its lean pool and inline sends), as ``openlines run`` makes it.
        client = connect(redis_server.url, Settings().redis_max_connections)
        # As ``openlines run`` makes the router's: on SQLite its batches run on this loop.
        writer = DbWriter(url, urgent=True, inline=True, checkpoints=True)
        try:
            await upgrade(engine)
            lookups = make_sessionmaker(engine)
            await do_seed(lookups, "admin", "bench-admin-password")
            router = Router(lookups, Bus(client), writer=writer)
            bench = await prepare(router, lookups, size)
            settle_heap()  # the collector's settings of a running hub
            await measure(bench, size, warmup)
            return await measure(bench, size, rounds)
        finally:
            writer.close()
            await client.aclose()
            await engine.dispose()
            await redis_server.stop()


def report(size: int, spent: dict[str, list[float]]) -> str:
    """One table per batch size: medians per batch and per input, against the empty batch."""
    floor = statistics.median(spent[KINDS[0]])
    lines = [
        f"batch size {size}, {len(spent[KINDS[0]])} rounds, median CPU of the whole process",
        f"  {'kind':24s} {'per batch':>10s} {'per input':>10s} {'above empty':>12s}",
    ]
    for kind in KINDS:
        batch = statistics.median(spent[kind])
        per_input = batch / size if kind != KINDS[0] else batch
        above = batch - floor
        lines.append(
            f"  {kind:24s} {batch * 1000:8.2f} ms {per_input * 1000:8.2f} ms "
            f"{above * 1000:10.2f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.router_batches", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20], help="batch sizes")
    parser.add_argument("--rounds", type=int, default=200, help="measured rounds per size")
    parser.add_argument("--warmup", type=int, default=20, help="rounds left out first")
    parser.add_argument(
        "--database-url", help="an empty database to use (one size only); default: SQLite"
    )
    args = parser.parse_args(argv)
    if args.database_url and len(args.sizes) != 1:
        raise SystemExit("bench: --database-url takes one batch size, as it needs it empty")
    for size in args.sizes:
        if size < 1:
            raise SystemExit("bench: a batch size is at least 1")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the hub's loop
            spent = runner.run(run_size(size, args.rounds, args.warmup, args.database_url))
        print(report(size, spent), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A router and a CRM sink wired through a real Redis and database, stepped by hand.

No connectors run: tests publish ``InboundMessage`` envelopes (with ``ClientHints``) to the
inbound stream the way a Telegram, Viber or email connector would, and ``drain`` steps every
consumer until the streams are quiet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.bus import Bus, BusConfig, Consumer
from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from core.db.schema import Channel, Line, LineOperator, Operator
from core.db.writer import DbWriter
from core.envelope import ClientHints, InboundMessage
from crm_sink.pushes import Adapter
from crm_sink.service import CRM_EVENT, CrmSink
from router.worker import ROUTER_INPUT, Router


@dataclass
class CrmHub:
    sessions: SessionMaker
    bus: Bus
    sink: CrmSink
    consumers: list[Consumer[Any]]
    line_id: int
    operator_id: int
    channels: dict[str, int]
    _n: int = 0

    async def say(
        self,
        channel: str,
        user: str,
        text: str = "hello",
        hints: ClientHints | None = None,
        name: str = "",
    ) -> None:
        """A client's message on one of the test channels."""
        self._n += 1
        await self.bus.publish(
            streams.inbound(0),
            InboundMessage(
                channel_id=self.channels[channel],
                external_user_id=user,
                external_message_id=f"m{self._n}",
                text=text,
                client_name=name,
                hints=hints or ClientHints(),
            ),
        )

    async def publish(self, stream: str, payload: BaseModel) -> None:
        await self.bus.publish(stream, payload)

    async def drain(self) -> None:
        """Step every consumer that has undelivered entries, until none has any.

        Only consumers with something new are stepped: an empty blocking read costs Redis's
        100 ms timer resolution, which would dominate these tests.
        """
        await self._step_until_quiet(self.consumers)

    async def route(self) -> None:
        """Step the router's consumers only: the CRM events wait for the test to apply them."""
        await self._step_until_quiet([c for c in self.consumers if c.stream != streams.CRM])

    async def _step_until_quiet(self, consumers: list[Consumer[Any]]) -> None:
        while True:
            busy = [c for c in consumers if await self._has_new(c)]
            if not busy:
                return
            for consumer in busy:
                await consumer.step()

    async def _has_new(self, consumer: Consumer[Any]) -> bool:
        redis = self.bus.redis
        stream = await redis.xinfo_stream(consumer.stream)
        groups = await redis.xinfo_groups(consumer.stream)
        delivered = next(g["last-delivered-id"] for g in groups if g["name"] == consumer.group)
        return bool(delivered != stream["last-generated-id"])

    def session(self) -> AsyncSession:
        return self.sessions()


@asynccontextmanager
async def crm_hub(
    db_url: str,
    redis_url: str,
    line_settings: dict[str, Any] | None = None,
    adapter: Adapter | None = None,
) -> AsyncIterator[CrmHub]:
    engine = make_engine(db_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s, s.begin():
        line = Line(key="shop", name="Shop", settings=line_settings or {})
        op = Operator(
            login="olga", name="Olga", password_hash="x", role="operator", status="online"
        )
        s.add_all([line, op])
        await s.flush()
        s.add(LineOperator(line_id=line.id, operator_id=op.id))
        chans = {
            kind: Channel(line_id=line.id, kind=kind, key=f"{kind}-key", name=kind)
            for kind in ("telegram", "viber", "email", "email2", "webchat")
        }
        chans["email2"].kind = "email"
        s.add_all(chans.values())
        await s.flush()
        channels = {k: c.id for k, c in chans.items()}
        line_id, op_id = line.id, op.id
    client = aioredis.from_url(redis_url, decode_responses=True)
    bus = Bus(client, BusConfig(block_ms=5, claim_idle_ms=100, claim_every_s=0.0))
    router = Router(sessions, bus)
    writer = DbWriter(db_url)  # the sink's transactions in a thread of their own, as the hub's
    sink = CrmSink(sessions, bus, adapter, writer=writer)
    consumers: list[Consumer[Any]] = [
        bus.consumer(streams.inbound(0), streams.ROUTER_GROUP, "t", router.handle, ROUTER_INPUT),
        bus.consumer(streams.COMMANDS, streams.ROUTER_GROUP, "t", router.handle, ROUTER_INPUT),
        bus.consumer(streams.CRM, streams.CRM_GROUP, "t", sink.handle, CRM_EVENT),
    ]
    for c in consumers:
        await bus.ensure_group(c.stream, c.group)
    try:
        yield CrmHub(sessions, bus, sink, consumers, line_id, op_id, channels)
    finally:
        writer.close()
        await client.aclose()
        await engine.dispose()

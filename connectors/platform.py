"""What the Telegram, VK and Viber connectors share: accounts, the raw-update queue, pollers.

Inbound path: a webhook (or a poller) checks the platform's secret, and in one Lua call sets the
dedupe key ``seen:<kind>:<channel>:<update id>`` and appends the raw update to ``raw.<kind>``; it
then answers at once. The connector's consumer of ``raw.<kind>`` parses the update, downloads its
files into the data directory, and puts the envelope on the client's inbound shard. The router's
unique (channel, external id) is the final guard against a double.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter

from connectors.accounts import ChannelAccount
from connectors.context import AccountConnector, ConnectorContext
from connectors.outbound import (
    OutboundSender,
    Receipt,
    Sent,
    report_receipt,
)
from core import streams
from core.bus import Delivery
from core.envelope import (
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
    PlatformUpdate,
    encode,
)

log = logging.getLogger(__name__)

SEEN_TTL_S = 8 * 24 * 3600
"""Dedupe window: longer than any platform's redelivery (Telegram ids may restart after a week)."""

# KEYS: dedupe key, stream. ARGV: ttl, maxlen, document. Dedupe and append in one step, so a
# crash can neither lose an update (key set, entry missing) nor queue it twice.
_QUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
  return 1
end
return 0
"""

UPDATE: TypeAdapter[PlatformUpdate] = TypeAdapter(PlatformUpdate)
Ingested = InboundMessage | Receipt
Poller = Callable[[], Awaitable[None]]


class PlatformConnector(AccountConnector, ABC):
    """What the Telegram, VK and Viber connectors inherit: a ``Connector`` (connectors.base)
    and a ``Platform`` for the outbound sender, once each subclass says how to ``ingest`` one
    raw update and ``deliver`` one message. Routes, pollers, a goodbye and per-account clients
    are optional."""

    kind = ""
    idempotent_sends = False

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._pollers: dict[int, tuple[ChannelAccount, asyncio.Task[None]]] = {}

    # --- what subclasses implement -------------------------------------------------------

    def routes(self) -> list[web.AbstractRouteDef]:
        """Webhook routes."""
        return []

    def poller(self, account: ChannelAccount) -> Poller | None:
        """A long-poll loop for an account that does not use a webhook."""
        return None

    @abstractmethod
    async def ingest(self, account: ChannelAccount, update: PlatformUpdate) -> list[Ingested]:
        """Turn one raw update into envelopes and receipts (may download files)."""

    @abstractmethod
    async def deliver(self, message: OutboundMessage) -> Sent:
        """Send one outbound message (see connectors.outbound)."""

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        """Say goodbye when the account has a goodbye text configured."""
        return None

    async def accounts_changed(self) -> None:
        """Drop per-account clients whose settings changed."""
        return None

    # --- shared machinery ----------------------------------------------------------------

    def account_for(self, request: web.Request) -> ChannelAccount:
        """The account a webhook path names; 503 before the first load so the platform retries."""
        if not self.accounts.loaded.is_set():
            raise web.HTTPServiceUnavailable(text="starting")
        account = self.accounts.by_key.get(request.match_info["key"])
        if account is None:
            raise web.HTTPNotFound(text=f"no enabled {self.kind} channel with this key")
        return account

    def account_of(self, channel_id: int) -> ChannelAccount | None:
        """An enabled account by channel id."""
        return self.accounts.by_id.get(channel_id)

    async def queue_update(self, account: ChannelAccount, update_id: str, body: Any) -> bool:
        """Queue a raw update unless it was queued before; False for a repeat."""
        update = PlatformUpdate(channel_id=account.id, update_id=update_id, body=body)
        done: Any = await self.bus.redis.eval(
            _QUEUE_ONCE,
            2,
            f"seen:{self.kind}:{account.id}:{update_id}",
            streams.raw(self.kind),
            SEEN_TTL_S,
            self.bus.config.maxlen,
            encode(update),
        )
        return bool(done)

    async def run(self) -> None:
        """Watch accounts, run pollers, consume raw updates and send, until the bus stops."""
        name = streams.consumer_name(self.kind)
        sender = OutboundSender(self, self.bus, self.sessions, name)
        raw = self.bus.consumer(
            streams.raw(self.kind), streams.CONNECTORS_GROUP, name, self._handle_raw, UPDATE
        )
        tasks = [
            asyncio.create_task(self.accounts.watch(self.bus, self.sessions, self._sync)),
            asyncio.create_task(raw.run()),
            asyncio.create_task(sender.run()),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks + [t for _a, t in self._pollers.values()]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._stop_pollers(list(self._pollers))

    async def _sync(self) -> None:
        await self.accounts_changed()
        wanted = {a.id: a for a in self.accounts.by_id.values() if self.poller(a) is not None}
        stale = [i for i, (a, _t) in self._pollers.items() if wanted.get(i) != a]
        await self._stop_pollers(stale)
        for account_id, account in wanted.items():
            if account_id not in self._pollers:
                job = self.poller(account)
                assert job is not None
                task = asyncio.create_task(self._supervise(account, job))
                self._pollers[account_id] = (account, task)

    async def _stop_pollers(self, ids: Sequence[int]) -> None:
        for account_id in ids:
            _account, task = self._pollers.pop(account_id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _supervise(self, account: ChannelAccount, job: Poller) -> None:
        while not self.bus.stopping.is_set():
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "%s poller of channel %d crashed; again in 2 s", self.kind, account.id
                )
                await asyncio.sleep(2)

    async def _handle_raw(self, batch: Sequence[Delivery[PlatformUpdate]]) -> None:
        for delivery in batch:
            update = delivery.payload
            account = self.account_of(update.channel_id)
            if account is None:
                log.warning("update for disabled channel %d dropped", update.channel_id)
                continue
            for item in await self.ingest(account, update):
                if isinstance(item, Receipt):
                    await report_receipt(self.bus, item)
                    continue
                shard = streams.shard_of(
                    item.channel_id, item.external_user_id, self.context.settings.inbound_shards
                )
                await self.bus.publish(streams.inbound(shard), item)

    async def close(self) -> None:
        """Stop pollers (their tasks end with the run loop)."""
        for _account, task in self._pollers.values():
            task.cancel()

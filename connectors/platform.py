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
import importlib
import logging
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter

from connectors.accounts import ChannelAccount
from connectors.context import AccountConnector, ConnectorContext
from connectors.health import TTL_S as HEALTH_TTL_S
from connectors.health import do_record_error, do_record_ok, health_key
from connectors.outbound import (
    OutboundSender,
    Receipt,
    Sent,
    report_receipt,
)
from connectors.webhooks import WebhookError, do_sync_webhooks
from connectors.workers import Job, KindWorkers
from core import streams
from core.backoff import Backoff
from core.bus import Bus, Delivery
from core.cancelling import cancel_and_wait
from core.envelope import (
    ClientEdit,
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
    PlatformUpdate,
    encode,
)

log = logging.getLogger(__name__)

SEEN_TTL_S = 8 * 24 * 3600
"""Dedupe window: longer than any platform's redelivery (Telegram ids may restart after a week)."""

# KEYS: dedupe key, stream (one cluster slot). ARGV: ttl, maxlen, document. Dedupe and append
# in one step, so a crash can neither lose an update (key set, entry missing) nor queue it twice.
_QUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
  return 1
end
return 0
"""

POLL_BACKOFF = Backoff(first_s=1.0, factor=2.0, max_s=60.0)
"""Waits between failed polls of one account: 1, 2, 4 … up to a minute."""

UPDATE: TypeAdapter[PlatformUpdate] = TypeAdapter(PlatformUpdate)
Ingested = InboundMessage | ClientEdit | Receipt
Poller = Callable[[], Awaitable[None]]
"""One round of polling (one long poll); it raises when the platform fails."""


class PlatformConnector(AccountConnector, ABC):
    """What the Telegram, VK and Viber connectors inherit: a ``Connector`` (connectors.base)
    and a ``Platform`` for the outbound sender, once each subclass says how to ``ingest`` one
    raw update and ``deliver`` one message. Routes, pollers, a goodbye and per-account clients
    are optional."""

    kind = ""
    idempotent_sends = False
    libraries: tuple[str, ...] = ()
    """The platform library's modules, imported (in a thread) with the kind's first account."""

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._pollers: dict[int, tuple[ChannelAccount, asyncio.Task[None]]] = {}
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhooks_stale = False
        self.workers = KindWorkers(self.kind, self._consumers)
        self.consumer_name = streams.consumer_name(self.kind)

    # --- what subclasses implement -------------------------------------------------------

    def routes(self) -> list[web.AbstractRouteDef]:
        """Webhook routes."""
        return []

    def poller(self, account: ChannelAccount) -> Poller | None:
        """One round of long polling for an account that does not use a webhook; the shared
        loop repeats it, backing off while it fails."""
        return None

    def webhook_wanted(self, account: ChannelAccount) -> bool:
        """True when the hub registers this account's webhook with the platform itself."""
        return False

    async def register_webhook(self, account: ChannelAccount, url: str) -> None:
        """Tell the platform the account's webhook address (raises WebhookError)."""
        raise WebhookError(f"{self.kind} webhooks are registered by hand")

    async def remove_webhook(self, account: ChannelAccount) -> None:
        """Tell the platform to stop calling the account's webhook (raises WebhookError)."""
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
        # The dedupe mark and the raw stream share a cluster slot (one script); the channel's
        # health is another key, written beside it in the same round trip.
        pipe = self.bus.redis.pipeline(transaction=False)
        pipe.eval(
            _QUEUE_ONCE,
            2,
            streams.update_seen(self.kind, account.id, update_id),
            streams.raw(self.kind),
            SEEN_TTL_S,
            self.bus.config.maxlen,
            encode(update),
        )
        pipe.hset(health_key(account.id), "last_in", f"{time.time():.3f}")
        pipe.expire(health_key(account.id), HEALTH_TTL_S)
        done, *_health = await pipe.execute()
        return bool(done)

    async def run(self) -> None:
        """Watch accounts, run pollers, and while the kind has an account consume its raw
        updates and send (``connectors.workers``), until the bus stops."""
        try:
            await self.accounts.watch(self.bus, self.sessions, self._sync)
        finally:
            pending = [t for _a, t in self._pollers.values()]
            if self._webhook_task is not None:
                pending.append(self._webhook_task)
            for task in pending:
                task.cancel()
            await self.workers.stop()
            await self._stop_pollers(list(self._pollers))

    def _consumers(self, bus: Bus) -> list[Job]:
        # One name for the process's life: consumers started again read what they left
        # pending first, rather than waiting for it to be reclaimed.
        name = self.consumer_name
        sender = OutboundSender(self, bus, self.sessions, name)
        raw = bus.consumer(
            streams.raw(self.kind), streams.CONNECTORS_GROUP, name, self._handle_raw, UPDATE
        )
        return [raw.run, sender.run]

    async def _sync(self) -> None:
        if self.accounts.by_id and not all(m in sys.modules for m in self.libraries):
            # Seconds of import, in a thread: the loop must keep renewing leases and reading.
            await asyncio.to_thread(_import, self.libraries)
        await self.accounts_changed()
        # A disabled account's pending replies are still marked failed by the sender.
        await self.workers.want(self.bus, bool(self.accounts.by_id or self.accounts.disabled))
        wanted = {a.id: a for a in self.accounts.by_id.values() if self.poller(a) is not None}
        stale = [i for i, (a, _t) in self._pollers.items() if wanted.get(i) != a]
        await self._stop_pollers(stale)
        for account_id, account in wanted.items():
            if account_id not in self._pollers:
                job = self.poller(account)
                assert job is not None
                task = asyncio.create_task(self._supervise(account, job))
                self._pollers[account_id] = (account, task)
        self._sync_webhooks()

    def _sync_webhooks(self) -> None:
        """Bring the platform's webhooks in line with the accounts, in the background (a slow
        platform must not hold up the next reload); a change meanwhile runs it again."""
        self._webhooks_stale = True
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_rounds())

    async def _webhook_rounds(self) -> None:
        while self._webhooks_stale:
            self._webhooks_stale = False
            try:
                await do_sync_webhooks(
                    self, self.bus.redis, self.context.settings.public_url, self.accounts
                )
            except Exception as exc:  # Redis down: the next reload tries again
                log.warning("%s webhooks not synced: %s", self.kind, describe(exc))

    async def _stop_pollers(self, ids: Sequence[int]) -> None:
        for account_id in ids:
            _account, task = self._pollers.pop(account_id)
            await cancel_and_wait(task)

    async def _supervise(self, account: ChannelAccount, poll_round: Poller) -> None:
        """Repeat ``poll_round`` until the bus stops: one log line per failure, a wait that
        doubles up to a minute, and the error in the channel's health until a round works."""
        failures = 0
        healthy = False
        while not self.bus.stopping.is_set():
            try:
                await poll_round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                healthy = False
                wait = POLL_BACKOFF.delay(failures)
                reason = describe(exc)
                log.warning(
                    "%s channel %d: polling failed (%s); again in %.0f s",
                    self.kind,
                    account.id,
                    reason,
                    wait,
                )
                with contextlib.suppress(Exception):
                    await do_record_error(self.bus.redis, account.id, f"polling failed: {reason}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.bus.stopping.wait(), wait)
                continue
            failures = 0
            if not healthy:
                with contextlib.suppress(Exception):
                    await do_record_ok(self.bus.redis, account.id)
                healthy = True

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


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def describe(exc: BaseException) -> str:
    """An error on one line, for a log line and the console: its message, else its type."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]

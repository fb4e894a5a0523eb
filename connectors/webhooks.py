"""Telling platforms where the hub's webhooks are: once per change, by one process.

A connector whose platform takes a webhook address (Telegram ``setWebhook``, Viber
``set_webhook``) says which accounts want one and how to register and remove it. After every
load of the accounts, ``do_sync_webhooks`` compares each account with what was last registered
for it (a fingerprint of the address and the account's config, kept in Redis, so every
connector process agrees and a restart repeats nothing) and registers or removes what
differs. A Redis lock keeps two processes from registering the same change at once; a failure
leaves the fingerprint as it was, so the next load (at the latest the periodic refresh) tries
again. Outcomes go to the channel's health, where the console shows them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from connectors.accounts import Accounts, ChannelAccount
from connectors.health import do_record_error, do_record_ok

log = logging.getLogger(__name__)

LOCK_S = 60


class WebhookError(Exception):
    """The platform refused or could not be reached; the message says why, for the admin."""


class WebhookPlatform(Protocol):
    """A platform connector that registers its own webhooks."""

    kind: str

    def webhook_wanted(self, account: ChannelAccount) -> bool:
        """True when the platform should send this enabled account's updates to a webhook."""
        ...

    async def register_webhook(self, account: ChannelAccount, url: str) -> None:
        """Tell the platform the account's webhook address (raises WebhookError)."""
        ...

    async def remove_webhook(self, account: ChannelAccount) -> None:
        """Tell the platform to stop calling the account's webhook (raises WebhookError)."""
        ...


def webhook_url(public_url: str, kind: str, key: str) -> str:
    """The address the platform calls for an account."""
    return f"{public_url.rstrip('/')}/hooks/{kind}/{key}"


def webhook_links(kind: str) -> Callable[[str, str], dict[str, str]]:
    """A kind's ``links``: the full webhook address, for the admin to see (or paste into the
    platform, for VK)."""

    def links(key: str, public_url: str) -> dict[str, str]:
        return {"webhook_url": webhook_url(public_url, kind, key)}

    return links


def _fingerprint(url: str, account: ChannelAccount) -> str:
    config = json.dumps(dict(account.config), sort_keys=True, default=str)
    return hashlib.sha256(f"{url}\n{config}".encode()).hexdigest()[:32]


async def do_sync_webhooks(
    platform: WebhookPlatform, redis: Redis, public_url: str, accounts: Accounts
) -> None:
    """Register the webhooks enabled accounts want and remove the ones nobody wants any more."""
    for account in list(accounts.by_id.values()):
        if not platform.webhook_wanted(account):
            await _remove(platform, redis, account)
        elif not public_url:
            await do_record_error(
                redis,
                account.id,
                "the hub's public_url is not set, so the platform cannot be told where to send "
                "updates (set OPENLINES_PUBLIC_URL to the hub's public https address)",
            )
        else:
            await _register(
                platform, redis, account, webhook_url(public_url, platform.kind, account.key)
            )
    for account in list(accounts.disabled.values()):
        await _remove(platform, redis, account)


def _keys(kind: str, account: ChannelAccount) -> tuple[str, str]:
    return f"webhook:{kind}:{account.id}", f"webhook-lock:{kind}:{account.id}"


async def _register(
    platform: WebhookPlatform, redis: Redis, account: ChannelAccount, url: str
) -> None:
    state, lock = _keys(platform.kind, account)
    wanted = _fingerprint(url, account)
    if await redis.get(state) == wanted or not await redis.set(lock, "1", nx=True, ex=LOCK_S):
        return
    try:
        await platform.register_webhook(account, url)
    except WebhookError as exc:
        log.warning("%s channel %d: webhook not registered: %s", platform.kind, account.id, exc)
        await do_record_error(redis, account.id, f"webhook not registered: {exc}")
    else:
        log.info("%s channel %d: webhook registered at %s", platform.kind, account.id, url)
        await redis.set(state, wanted)
        await do_record_ok(redis, account.id, webhook=url)
    finally:
        await redis.delete(lock)


async def _remove(platform: WebhookPlatform, redis: Redis, account: ChannelAccount) -> None:
    state, lock = _keys(platform.kind, account)
    if not await redis.exists(state) or not await redis.set(lock, "1", nx=True, ex=LOCK_S):
        return
    try:
        await platform.remove_webhook(account)
    except WebhookError as exc:
        log.warning("%s channel %d: webhook not removed: %s", platform.kind, account.id, exc)
        await do_record_error(redis, account.id, f"webhook not removed: {exc}")
    else:
        log.info("%s channel %d: webhook removed", platform.kind, account.id)
        await redis.delete(state)
        await do_record_ok(redis, account.id, webhook="")
    finally:
        await redis.delete(lock)

"""Typing indicators between visitors and operators: throttled, relayed, never stored.

The visitor's socket and the operator's may live in different processes, so a typing signal
goes through Redis pub/sub: fire and forget, nothing kept. A signal is worth one frame per
``THROTTLE_S`` per side; the receiving screen hides the indicator when no new frame came for
``SHOWN_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any

from redis.asyncio import Redis

from core.bus_tail import until_stopped
from core.outage import REDIS_DOWN, Outage

log = logging.getLogger(__name__)

VISITOR_TYPING = "typing:visitor"
"""Pub/sub channel: ``{"dialog_id"}``, a visitor types in that dialog (for the console)."""
OPERATOR_TYPING = "typing:operator"
"""Pub/sub channel: ``{"channel_id", "external_user_id", "name"}``, an operator types to that
client (for the channel's connector)."""
THROTTLE_S = 2.0
SHOWN_S = 5.0
RELAY_GUARD_S = 1.5
"""The hub's own limit on what it relays: a little under ``THROTTLE_S``, so the frames of a
sender that keeps to it are never dropped for network jitter, while a flood still is."""

Signal = dict[str, Any]


class Throttle:
    """At most one signal per key every ``interval_s`` (keys kept: the most recent ``size``)."""

    def __init__(self, interval_s: float = THROTTLE_S, size: int = 10_000) -> None:
        self.interval_s = interval_s
        self.size = size
        self._last: OrderedDict[Hashable, float] = OrderedDict()

    def forget(self, key: Hashable) -> None:
        """Let the next signal for ``key`` through (the last one went nowhere)."""
        self._last.pop(key, None)

    def allow(self, key: Hashable, now: float) -> bool:
        """Whether a signal for ``key`` at ``now`` (monotonic seconds) may go out."""
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        if len(self._last) > self.size:
            self._last.popitem(last=False)
        return True


async def publish(redis: Redis, channel: str, signal: Signal) -> None:
    """Send one signal; a lost one only means an indicator that does not show."""
    await redis.publish(channel, json.dumps(signal))


async def listen(
    redis: Redis,
    channel: str,
    handle: Callable[[Signal], Awaitable[None]],
    stopping: asyncio.Event,
) -> None:
    """Hand every signal on ``channel`` to ``handle`` until ``stopping`` is set.

    A lost connection to Redis does not end the listener: it is logged once per outage and the
    listener subscribes again with ``TAIL_BACKOFF``. Signals sent meanwhile are gone, as pub/sub
    keeps nothing; an indicator that did not show is all that costs.
    """
    outage = Outage(channel, kind="listener")
    while not stopping.is_set():
        try:
            await _subscribed(redis, channel, handle, stopping, outage)
        except REDIS_DOWN as exc:
            await outage.wait(exc, stopping)


async def _subscribed(
    redis: Redis,
    channel: str,
    handle: Callable[[Signal], Awaitable[None]],
    stopping: asyncio.Event,
    outage: Outage,
) -> None:
    """One subscription, until ``stopping`` is set or the connection fails."""
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
        # Back only once Redis confirms the subscription: after a restart the pool may hand
        # out a connection to the old server, on which SUBSCRIBE is written but never answered,
        # and the outage would be reported over just before the read fails.
        while not stopping.is_set():
            confirmed = await pubsub.get_message(timeout=1.0)
            if confirmed is not None and confirmed.get("type") == "subscribe":
                outage.over()
                break
        # The read blocks until a signal comes, and the hub's stop cancels it: a read with a
        # timeout woke each listener every second of an idle hub for nothing.
        next_signal = partial(pubsub.get_message, ignore_subscribe_messages=True, timeout=None)
        while not stopping.is_set():
            message = await until_stopped(next_signal, stopping)
            if message is None or message.get("type") != "message":
                continue
            try:
                signal = json.loads(message["data"])
            except ValueError:
                log.warning("typing signal on %s is not JSON; ignored", channel)
                continue
            if isinstance(signal, dict):
                await handle(signal)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe(channel)
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]

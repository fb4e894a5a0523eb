"""Stream names, and the sharding of inbound messages by client."""

from __future__ import annotations

import zlib

COMMANDS = "cmd"
"""Operator commands from the console to the router."""
EVENTS = "events"
"""Dialog and message events, fanned out to every console process."""
CRM = "crm"
"""Dialog lifecycle events for the CRM sink."""
TIMERS = "timers"
"""Timers that came due."""
ROUTER_GROUP = "router"


def inbound(shard: int) -> str:
    """The inbound stream of one shard."""
    return f"in.{shard}"


def outbound(channel_kind: str) -> str:
    """The outbound stream of one kind of channel."""
    return f"out.{channel_kind}"


def shard_of(channel_id: int, external_user_id: str, shards: int) -> int:
    """The shard of a client: all messages of one client land on one shard, in order."""
    return zlib.crc32(f"{channel_id}:{external_user_id}".encode()) % shards

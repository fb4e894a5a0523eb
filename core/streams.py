"""Every stream, consumer group and Redis key name of the hub, and the sharding of inbound
messages by client.

One module, so that a newcomer finds in one place what flows where, and two components can
never disagree about a name.

Keys that one operation touches together share a Redis Cluster hash slot: a key derived from a
stream carries the stream's name as its hash tag (``dlq.{in.3}``, ``bus:failures:{in.3}:router``),
and Redis hashes ``in.3`` itself, untagged, to the same slot. So a stream, its dead letters, its
failure counts, its parked retries and its lease live on one node, and a Lua script or a
MULTI over them is legal on a cluster. Stream names therefore never contain ``{`` or ``}``.
"""

from __future__ import annotations

import os
import secrets
import socket
import zlib

COMMANDS = "cmd"
"""Operator commands from the console to the router."""
EVENTS = "events"
"""Dialog and message events, fanned out to every console process."""
CRM = "crm"
"""Dialog lifecycle events for the CRM sink."""
TIMERS = "timers"
"""Timers that came due."""
CHANNELS = "channels"
"""Where channel account changes are announced."""

ROUTER_GROUP = "router"
"""The router's consumer group on the inbound shards, commands and timers."""
CONNECTORS_GROUP = "connectors"
"""The connectors' consumer group on their outbound and raw update streams."""
CRM_GROUP = "crm"
"""The CRM sink's consumer group on ``CRM``."""
WEBHOOKS_GROUP = "webhooks"
"""The webhook sender's consumer group on ``EVENTS`` and on ``WEBHOOK_DELIVERIES``."""
WEBHOOK_DELIVERIES = "webhooks.out"
"""One entry per event and subscribed webhook, retried through the bus until it is delivered."""

TIMERS_DUE = "{timers}:due"
"""Sorted set of pending timer keys by due time (ms); in the slot of the ``TIMERS`` stream."""
TIMER_PAYLOADS = "{timers}:payload"
"""Hash of pending timer keys to the encoded document they fire; in the ``TIMERS`` slot."""


def consumer_name(role: str) -> str:
    """A consumer name of its own for this process: host, role, pid and a random suffix.

    Two processes on one host must never share a name. Entries pending on a name belong to
    whoever reads with it, so a shared name would let one process re-handle entries another is
    still working on, and the router's leases (held by this name) would count both processes as
    one holder, so both would consume every shard. The random part keeps a restarted process
    that got an old pid apart from its dead predecessor, whose pending entries are taken over
    explicitly (``XAUTOCLAIM``), never inherited by name.
    """
    return f"{socket.gethostname()}-{role}-{os.getpid()}-{secrets.token_hex(3)}"


def inbound(shard: int) -> str:
    """The inbound stream of one shard."""
    return f"in.{shard}"


def outbound(channel_kind: str) -> str:
    """The outbound stream of one kind of channel."""
    return f"out.{channel_kind}"


def raw(channel_kind: str) -> str:
    """The stream of one kind of channel's accepted, not yet parsed platform updates."""
    return f"raw.{channel_kind}"


def in_slot_of(stream: str) -> str:
    """The hash tag that puts a key in the cluster slot of ``stream``."""
    return f"{{{stream}}}"


def dead_letter(stream: str) -> str:
    """The dead-letter stream of ``stream``: entries that failed too often, with their error."""
    return f"dlq.{in_slot_of(stream)}"


def bus_failures(stream: str, group: str) -> str:
    """Hash of entry id to failed handlings, for one stream and consumer group."""
    return f"bus:failures:{in_slot_of(stream)}:{group}"


def bus_delayed(stream: str, group: str) -> str:
    """Sorted set of parked ordering keys by due time (ms), for one stream and group."""
    return f"bus:delayed:{in_slot_of(stream)}:{group}"


def bus_parked_prefix(stream: str, group: str) -> str:
    """What the list of one parked ordering key is named with its token appended."""
    return f"bus:parked:{in_slot_of(stream)}:{group}:"


def stream_lease(role: str, stream: str) -> str:
    """The name of the lease that lets one process of ``role`` consume ``stream``."""
    return f"{role}:{in_slot_of(stream)}"


def update_seen(channel_kind: str, account_id: int, update_id: str) -> str:
    """Set while a platform update counts as queued (on its kind's raw stream), for dedupe."""
    return f"seen:{in_slot_of(raw(channel_kind))}:{account_id}:{update_id}"


def outbound_wait(channel_kind: str, message_id: int | str) -> str:
    """Set, with the platform's wait as its time to live, while a message may not be resent."""
    return f"outbound:wait:{channel_kind}:{message_id}"


def outbound_parked(channel_kind: str, message_id: int | str) -> str:
    """Counter of how often one outbound message was put off."""
    return f"outbound:parked:{channel_kind}:{message_id}"


def client_key(channel_id: int, external_user_id: str) -> str:
    """The key of one client of one channel: what its shard and its order are kept by."""
    return f"{channel_id}:{external_user_id}"


def shard_of(channel_id: int, external_user_id: str, shards: int) -> int:
    """The shard of a client: all messages of one client land on one shard, in order."""
    return zlib.crc32(client_key(channel_id, external_user_id).encode()) % shards


def console_sockets(operator_id: int) -> str:
    """Sorted set of an operator's live console socket ids, scored by when each expires (ms)."""
    return f"presence:sockets:{operator_id}"


def presence_choice(operator_id: int) -> str:
    """The presence an operator last chose ("online", "away", "offline") while signed in."""
    return f"presence:choice:{operator_id}"


def presence_timer(operator_id: int) -> str:
    """The key of an operator's presence timer: when it fires, the router checks the sockets."""
    return f"presence:{operator_id}"


def away_timer(operator_id: int) -> str:
    """The key of an operator's auto-away timer, pushed on by every report of activity."""
    return f"away:{operator_id}"

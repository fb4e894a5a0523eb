"""The bus's policy as values: how consumers read, retry and give up, and the two ways a
handler says what became of an entry (``Retry``, ``Permanent``). ``core.bus`` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass

from core.backoff import Backoff

RETRY_BACKOFF = Backoff(first_s=1.0, factor=3.0, max_s=30.0)
"""The bus's default wait before a ``Retry()`` that names none: 1 s, 3 s, 9 s, 27 s, 30 s."""


@dataclass(frozen=True)
class BusConfig:
    """How consumers read, retry and give up. Frozen: a retry policy is a value."""

    batch_size: int = 100
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    claim_every_s: float = 5.0
    max_deliveries: int = 5
    maxlen: int = 1_000_000
    retry_backoff: Backoff = RETRY_BACKOFF
    """The wait after ``Retry()`` without ``after``, by the entry's failed deliveries so far."""
    forget_idle_ms: int = 600_000
    """A consumer of the group silent this long, with nothing pending, is a process that is gone:
    its name is removed. Live consumers read every ``block_ms``, so they are never this idle."""
    forget_every_s: float = 300.0
    replica_wait_ms: int = 0
    """How long ``publish_replicated`` waits for a replica to have the entry (``WAIT 1``)
    when the Redis has one; 0: never wait."""


class Retry(Exception):
    """Raised by a handler: try this entry again in ``after`` seconds.

    Without ``after`` the bus's ``retry_backoff`` chooses the wait; ``after=0`` means as soon as
    the consumer has caught up with its stream.
    """

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Permanent(Exception):
    """Raised by a handler: this entry can never succeed; dead-letter it now."""

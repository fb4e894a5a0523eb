"""How long to wait before trying again: one frozen policy for every retry in the hub.

A platform that says how long to wait (Telegram's 429 ``retry_after``, VK's rate-limit errors,
Viber's throttling status) is believed; otherwise the wait grows geometrically up to a cap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """A retry schedule. Frozen: a retry policy is a value, shared and compared freely."""

    attempts: int = 4
    """Tries in one go (a caller's inline loop), where the caller has such a loop."""
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_s < 0 or self.factor < 1 or self.max_s < 0:
            raise ValueError(f"not a usable backoff: {self}")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        ``retry_after`` is the platform's own wait, when it gave one: it wins over the schedule
        (even above ``max_s``: asking again sooner only earns another refusal).
        """
        if retry_after is not None:
            return max(0.0, float(retry_after))
        step = max(1, attempt) - 1
        return float(min(self.max_s, self.first_s * self.factor**step))

"""One stream entry as a consumer's handler receives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery(Generic[T]):
    """One stream entry handed to a handler."""

    stream: str
    id: str
    payload: T
    deliveries: int = 0
    """How many times this entry failed before (retries included)."""

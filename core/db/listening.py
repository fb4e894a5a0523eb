"""SQLAlchemy event listeners held for the length of a block: in-process caches use them to
learn of the row changes that make them stale, and leave nothing registered once closed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import event


@contextlib.contextmanager
def listening(target: Any, names: Iterable[str], listener: Callable[..., Any]) -> Iterator[None]:
    """Call ``listener`` on each event of ``names`` on ``target`` while the block runs."""
    names = tuple(names)
    for name in names:
        event.listen(target, name, listener)
    try:
        yield
    finally:
        for name in names:
            event.remove(target, name, listener)

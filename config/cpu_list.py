"""The ``cpus`` setting's list of CPUs (``core.cpus`` keeps the hub's process on them)."""

from __future__ import annotations


def parse_cpus(text: str) -> frozenset[int]:
    """The CPUs of a list such as ``1``, ``0,2`` or ``2-3``; empty for ``""``.

    Raises ValueError naming what is wrong."""
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part and not text.strip():
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or a range such as 2-3")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"the range {part!r} runs backwards")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)

"""Pure helpers of search: the words of a query, each backend's match expression, snippets,
and the filters' values."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

MAX_WORDS = 8
MAX_WORD = 64
SNIPPET_AROUND = 70

_WORD = re.compile(r"\w+")
_PHONE_LIKE = re.compile(r"^[\d\s()+.-]+$")
MIN_PHONE_DIGITS = 5
_SPACE = re.compile(r"\s+")


def query_words(q: str) -> list[str]:
    """The words of a search box, lowercased; punctuation and FTS syntax are dropped, so a
    query can never be a syntax error."""
    return [w[:MAX_WORD].lower() for w in _WORD.findall(q)][:MAX_WORDS]


def contact_needle(q: str) -> str | None:
    """What to look for in clients' stored contacts: the digits of something typed like a
    phone number (contacts keep phones as digits with a leading "+"), or an email address
    (or part of one) as typed; None for anything else."""
    q = q.strip()
    digits = re.sub(r"\D", "", q)
    if _PHONE_LIKE.match(q) and len(digits) >= MIN_PHONE_DIGITS:
        return digits
    if "@" in q and " " not in q:
        return q.lower()
    return None


def fts5_match(words: list[str]) -> str:
    """An FTS5 MATCH expression: every word; the last also as a word's beginning, as it may
    be still being typed ("прив" finds "привет"). Only the last: a prefix merges the lists of
    every word it begins, which costs far more than one word's list on a large index."""
    return " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])


def tsquery(words: list[str]) -> str:
    """A PostgreSQL ``to_tsquery`` text with the same meaning as ``fts5_match``."""
    return " & ".join([*words[:-1], f"{words[-1]}:*"])


def snippet(text: str, words: list[str]) -> str:
    """Plain text around the first word found, on one line, with "…" where it was cut."""
    flat = _SPACE.sub(" ", text).strip()
    lowered = flat.lower()
    hits = [i for i in (lowered.find(w) for w in words) if i >= 0]
    at = min(hits) if hits else 0
    start = max(0, at - SNIPPET_AROUND)
    end = min(len(flat), at + SNIPPET_AROUND * 2)
    if start > 0:
        # Start at a word boundary rather than mid-word.
        space = flat.find(" ", start, at)
        start = space + 1 if space >= 0 else start
    return ("…" if start > 0 else "") + flat[start:end] + ("…" if end < len(flat) else "")


def parse_bound(raw: str, name: str, end: bool) -> datetime:
    """A ``from``/``to`` filter: an ISO date (``to`` then includes that whole day) or an ISO
    datetime (UTC unless it names its offset). Raises ``ValueError`` naming the parameter."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            at = datetime.combine(day, time(), tzinfo=UTC)
            return at + timedelta(days=1) if end else at
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name}: not an ISO date or datetime") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

"""Hostile inputs for the fuzz tests of every edge, drawn by hypothesis with a fixed seed.

The edges under test run on the test's event loop, which ``@given`` cannot drive; so the
examples are drawn first (``examples``), deterministically, then sent one by one.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import RedisError

HUGE_IDS = st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**30, -1, 0])
"""Integers at and past the 64-bit edge, where ``OverflowError`` used to come from."""

ODD_TEXT = st.sampled_from(["²", "٣", "\ud800", "", " ", "1e400", "NaN", "a" * 300, "\x00"])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_IDS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    ODD_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def nested(depth: int) -> str:
    """A JSON text nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


RAW_TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from([nested(3000), '{"a":' * 5000, "1e400", "NaN", '"\\ud800"', "[]", "{}"]),
)


def objects_with(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with some of ``fields`` (each drawn from its strategy, or from any JSON
    value) and a few unknown ones."""
    known = st.fixed_dictionaries(
        {}, optional={name: strategy | JSON_VALUES for name, strategy in fields.items()}
    )
    return st.builds(
        lambda a, b: {**b, **a},
        known,
        st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2),
    )


def examples(strategy: st.SearchStrategy[Any], count: int = 100) -> list[Any]:
    """``count`` examples of ``strategy``, the same ones on every run."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """No record at ERROR or above, and none carrying an exception: hostile input is refused,
    not crashed on. A slow shared test machine can time out Redis reads; those records are
    about the machine, not the input, and are left out."""
    bad = [
        r
        for r in caplog.records
        if (r.levelno >= logging.ERROR or r.exc_info) and not _redis_fault(r)
    ]
    assert not bad, [(r.name, r.getMessage(), r.exc_info) for r in bad]


def _redis_fault(record: logging.LogRecord) -> bool:
    if record.exc_info and isinstance(record.exc_info[1], RedisError):
        return True
    return record.name == "router.worker" and "network:" in record.getMessage()


async def post_raw(url: str, raw: bytes | str, headers: dict[str, str] | None = None) -> int:
    """POST ``raw`` as a JSON body; the answer's status."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=sent) as resp:
        await resp.read()
        return resp.status

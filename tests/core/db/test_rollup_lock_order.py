"""Two writers of the statistics' rollup on PostgreSQL (router processes of their own) that
add to the same rows never deadlock: each writes the rows in the order of their keys.

Writer A has added to the row of Ann's day and not committed yet: it holds that row's lock,
as a router holds the first rows of its upsert. Writer B then adds to Bob's row and Ann's
(gathered in that order). Were the rows written as gathered, B would lock Bob's row and wait
for Ann's, and A's next row, Bob's, would close the cycle: PostgreSQL aborts one of them. In
key order B waits for Ann's row holding nothing, so A finishes and commits, then B does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import Engine

from core.db.rollup import DAYS, Key, Sums, write_differences
from core.db.rollup_schema import SUMMED
from core.db.writer import sync_url

LINE, CHANNEL, ANN, BOB = 1, 1, 7, 9
ANNS_DAY: Key = ("2030-01-07", LINE, CHANNEL, ANN, 1)
BOBS_DAY: Key = ("2030-01-07", LINE, CHANNEL, BOB, 1)


def _messages(count: int) -> list[int]:
    row = [0] * len(SUMMED)
    row[SUMMED.index("messages")] = count
    return row


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(postgres_url))
    yield engine
    engine.dispose()


def _begin(engine: Engine) -> Connection:
    conn = engine.connect()
    conn.begin()
    # Superuser only (the tests' role is): a cycle, had there been one, is found at once.
    conn.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
    return conn


def _waits_for_a_lock(engine: Engine, pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
            if waiting == "Lock":
                return
            watcher.rollback()
            time.sleep(0.01)
    raise AssertionError("writer B never waited for a row lock")


def test_writers_adding_to_the_same_rows_in_opposite_orders_do_not_deadlock(
    engine: Engine,
) -> None:
    with engine.begin() as conn:  # both rows exist: each write is an update of a row
        write_differences(conn, {ANNS_DAY: _messages(1), BOBS_DAY: _messages(1)}, {})

    a = _begin(engine)
    write_differences(a, {ANNS_DAY: _messages(10)}, {})

    b = _begin(engine)
    b_pid = b.scalar(text("SELECT pg_backend_pid()"))
    b_failed: list[BaseException] = []

    def b_writes() -> None:
        gathered: Sums = {BOBS_DAY: _messages(100), ANNS_DAY: _messages(100)}
        try:
            write_differences(b, gathered, {})
            b.commit()
        except BaseException as exc:  # the test asserts there was none
            b_failed.append(exc)
            b.rollback()

    thread = threading.Thread(target=b_writes)
    thread.start()
    try:
        _waits_for_a_lock(engine, b_pid)
        write_differences(a, {BOBS_DAY: _messages(10)}, {})
        a.commit()
    finally:
        a.close()
        thread.join(timeout=30)
        b.close()
    assert not thread.is_alive()
    assert b_failed == []

    with engine.connect() as conn:
        rows = conn.execute(select(DAYS.c.operator_id, DAYS.c.messages).order_by("operator_id"))
        assert rows.all() == [(ANN, 111), (BOB, 111)]

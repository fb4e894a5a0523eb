"""Core statements on the driver's cursor give what SQLAlchemy's connection gives, on both
backends, and step aside wherever they cannot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    event,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.exc import IntegrityError, StatementError

from core.db import on_cursor
from core.db.schema import UtcDateTime
from core.db.writer import make_writer_engine

PROBES = Table(
    "cursor_probes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("key", String(32), nullable=False, unique=True),
    Column("flag", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("note", Text),
)
C = PROBES.c
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

INSERT = insert(PROBES).returning(C.id, C.key)
BY_IDS = (
    select(PROBES)
    .where(C.id.in_(bindparam("ids", expanding=True)), C.flag.in_([True, False]))
    .order_by(C.id)
)
BY_KEYS = select(C.id, C.key).where(
    C.key.in_(bindparam("keys", expanding=True)), C.at >= bindparam("since")
)
WRITE = update(PROBES).where(C.id == bindparam("b_id")).values(note=bindparam("b_note"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The router's writer engine, with the probe table."""
    engine = make_writer_engine(db_url).sync_engine
    PROBES.create(engine)
    try:
        yield engine
    finally:
        PROBES.drop(engine)
        engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection of the writer engine, in a transaction."""
    with engine.connect() as conn, conn.begin():
        yield conn


def _probe(n: int) -> dict[str, Any]:
    return {
        "key": f"k{n}",
        "flag": n % 2 == 0,
        "data": {"n": n, "tags": ["a", "ü"]},
        "at": START + timedelta(minutes=n, microseconds=n % 3),
        "note": None if n % 5 else "five",
    }


def _through_connection(conn: Connection, statement: Any, params: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(statement, params)]


def test_rows_inserted_and_read_on_the_cursor_are_the_connections(connection: Connection) -> None:
    rows = [_probe(n) for n in range(on_cursor.INSERT_PAGE + 7)]  # two INSERTs of many rows
    assert on_cursor.cursor_sql(connection, INSERT, rows) is not None
    returned = on_cursor.run(connection, INSERT, rows)
    assert sorted(r.key for r in returned) == sorted(r["key"] for r in rows)
    ids = sorted(r.id for r in returned)

    params = {"ids": ids[:9]}
    assert "IN (" + ", ".join(["?"] * 9) + ")" in (
        on_cursor.cursor_sql(connection, BY_IDS, params) or ""
    ).replace("%s", "?")
    read = [r._asdict() for r in on_cursor.run(connection, BY_IDS, params)]
    assert read == _through_connection(connection, BY_IDS, params)
    first = read[0]
    assert first["at"] == START and first["at"].tzinfo is not None
    assert first["flag"] is True and first["data"] == {"n": 0, "tags": ["a", "ü"]}
    assert first["note"] == "five" and read[1]["note"] is None

    keyed = {"keys": ["k3", "k4", "nobody"], "since": START + timedelta(minutes=4)}
    assert [tuple(r) for r in on_cursor.run(connection, BY_KEYS, keyed)] == [(ids[4], "k4")]


def test_a_write_for_many_rows_is_one_executemany(connection: Connection) -> None:
    ids = sorted(r.id for r in on_cursor.run(connection, INSERT, [_probe(n) for n in range(3)]))
    notes = [{"b_id": i, "b_note": f"note {i}"} for i in ids[:2]]
    assert on_cursor.cursor_sql(connection, WRITE, notes) is not None
    assert on_cursor.run(connection, WRITE, notes) == []
    stored = connection.execute(select(C.id, C.note).order_by(C.id)).all()
    assert [tuple(r) for r in stored] == [
        (ids[0], f"note {ids[0]}"),
        (ids[1], f"note {ids[1]}"),
        (ids[2], None),
    ]


def test_a_driver_error_is_raised_as_sqlalchemys(connection: Connection) -> None:
    on_cursor.run(connection, INSERT, _probe(1))
    with pytest.raises(IntegrityError) as raised, connection.begin_nested():
        on_cursor.run(connection, INSERT, _probe(1))  # the same key again
    assert isinstance(raised.value.orig, connection.dialect.loaded_dbapi.IntegrityError)


NAIVE = datetime(2026, 3, 1, 9, 30)
"""A datetime without a zone, which ``UtcDateTime`` refuses."""

MOVE = update(PROBES).where(C.id == bindparam("b_id")).values(at=bindparam("b_at"))


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (BY_KEYS, {"keys": ["k1"], "since": NAIVE}),
        (INSERT, [{**_probe(1), "at": NAIVE}, {**_probe(2), "at": NAIVE}]),
        (MOVE, [{"b_id": 1, "b_at": NAIVE}, {"b_id": 2, "b_at": NAIVE}]),
    ],
    ids=["read", "insert", "executemany"],
)
def test_a_converters_error_is_raised_as_the_connections(
    connection: Connection, statement: Any, params: Any
) -> None:
    assert on_cursor.cursor_sql(connection, statement, params) is not None
    with pytest.raises(StatementError) as ours, connection.begin_nested():
        on_cursor.run(connection, statement, params)
    with pytest.raises(StatementError) as theirs, connection.begin_nested():
        connection.execute(statement, params)
    assert isinstance(ours.value.orig, ValueError)
    assert str(ours.value).splitlines()[0] == str(theirs.value).splitlines()[0]


def test_what_it_cannot_run_goes_through_the_connection(engine: Engine) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with engine.connect() as conn, conn.begin():
        on_cursor.run(conn, INSERT, [_probe(n) for n in range(2)])
        assert on_cursor.cursor_sql(conn, BY_IDS, {"ids": []}) is None
        assert on_cursor.run(conn, BY_IDS, {"ids": []}) == []

    # Listeners of the statements (counters, tracing) see each one.
    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as watched:
            keyed = {"keys": ["k0", "k1"], "since": START}
            assert on_cursor.cursor_sql(watched, BY_KEYS, keyed) is None
            assert len(on_cursor.run(watched, BY_KEYS, keyed)) == 2
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) == 1 and "cursor_probes" in seen[0]


def test_a_driver_call_gives_the_sql_and_values_for_a_connection_of_ones_own() -> None:
    call = on_cursor.driver_call(
        aiosqlite.dialect(), BY_KEYS, {"keys": ["k1", "k2"], "since": START}
    )
    assert call is not None
    assert '"key" IN (?, ?) AND cursor_probes.at >= ?' in " ".join(call.sql.split())
    # Converted as SQLAlchemy stores them: SQLite keeps timestamps as text.
    assert call.values == ["k1", "k2", "2026-03-01 09:30:00.000000"]
    assert on_cursor.driver_call(aiosqlite.dialect(), BY_KEYS, {"keys": [], "since": START}) is None


def test_psycopgs_placeholders_are_numbered_once_and_percent_signs_kept() -> None:
    numbered = on_cursor.numbered("SELECT %s, '100%%' WHERE a IN (%s, %s) AND b LIKE '%%x'")
    assert numbered == "SELECT $1, '100%' WHERE a IN ($2, $3) AND b LIKE '%x'"


def test_a_literal_percent_sign_and_many_values_read_as_through_the_connection(
    connection: Connection,
) -> None:
    """On PostgreSQL the statement goes out with ``$n`` placeholders: a literal ``%`` stays
    one, and a list of more values than psycopg keeps its own rewrite of still reads right."""
    ids = [r.id for r in on_cursor.run(connection, INSERT, [_probe(n) for n in range(80)])]
    fives = select(C.id).where(C.id.in_(bindparam("ids", expanding=True)))
    fives = fives.where(C.note.like(literal_column("'%ive'"))).order_by(C.id)
    params = {"ids": ids}
    read = [r.id for r in on_cursor.run(connection, fives, params)]
    assert read == [r["id"] for r in _through_connection(connection, fives, params)]
    assert len(read) == 16  # every fifth of the 80 has the note "five"


def test_statements_run_together_give_what_each_gives_alone(connection: Connection) -> None:
    ids = sorted(r.id for r in on_cursor.run(connection, INSERT, [_probe(n) for n in range(6)]))
    calls: list[tuple[Any, dict[str, Any]]] = [
        (BY_IDS, {"ids": ids[:3]}),
        (WRITE, {"b_id": ids[5], "b_note": "together"}),
        (BY_KEYS, {"keys": ["k3", "k4"], "since": START}),
        (INSERT, _probe(9)),
        (BY_IDS, {"ids": ids[5:]}),  # after the write before it: sees it
    ]
    together = on_cursor.run_together(connection, calls)

    assert [r._asdict() for r in together[0]] == _through_connection(
        connection, BY_IDS, {"ids": ids[:3]}
    )
    assert together[1] == []
    assert sorted(tuple(r) for r in together[2]) == [(ids[3], "k3"), (ids[4], "k4")]
    [inserted] = together[3]
    assert inserted.key == "k9" and inserted.id > ids[-1]
    [seen] = together[4]
    assert (seen.id, seen.note) == (ids[5], "together")


def test_writes_of_many_rows_run_together_give_what_each_gives_alone(
    connection: Connection,
) -> None:
    """An executemany, and an INSERT of more rows than one page holds, among other statements:
    in order, each with its answer."""
    ids = sorted(r.id for r in on_cursor.run(connection, INSERT, [_probe(n) for n in range(3)]))
    notes = [{"b_id": i, "b_note": f"many {i}"} for i in ids[:2]]
    more = [_probe(n) for n in range(100, 100 + on_cursor.INSERT_PAGE + 3)]
    calls: list[on_cursor.Call] = [
        (WRITE, notes),
        (INSERT, more),
        (BY_IDS, {"ids": ids}),  # after the executemany before it: sees it
    ]
    written, inserted, read = on_cursor.run_together(connection, calls)

    assert written == []
    assert sorted(r.key for r in inserted) == sorted(p["key"] for p in more)
    assert len({r.id for r in inserted}) == len(more) and min(r.id for r in inserted) > ids[-1]
    assert [r.note for r in read] == [f"many {ids[0]}", f"many {ids[1]}", None]


def test_a_failed_statement_run_together_is_raised_as_sqlalchemys(connection: Connection) -> None:
    on_cursor.run(connection, INSERT, _probe(1))
    calls = [(BY_KEYS, {"keys": ["k1"], "since": START}), (INSERT, _probe(1))]
    with pytest.raises(IntegrityError) as raised, connection.begin_nested():
        on_cursor.run_together(connection, calls)
    assert isinstance(raised.value.orig, connection.dialect.loaded_dbapi.IntegrityError)
    # The transaction goes on after the failed statements.
    assert [r.key for r in on_cursor.run(connection, BY_KEYS, calls[0][1])] == ["k1"]


@pytest.fixture
def pg_connection(postgres_url: str) -> Iterator[Connection]:
    """A connection of the writer engine on PostgreSQL (psycopg), in a transaction."""
    engine = make_writer_engine(postgres_url).sync_engine
    PROBES.create(engine)
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    finally:
        PROBES.drop(engine)
        engine.dispose()


def test_on_psycopg_statements_run_together_wait_for_one_answer(
    pg_connection: Connection, tmp_path: Path
) -> None:
    """One synchronisation with the server for the reads together, one each alone."""
    connection = pg_connection
    assert connection.dialect.driver == "psycopg"
    calls = [(BY_KEYS, {"keys": [f"k{n}"], "since": START}) for n in range(3)]

    def syncs(run: Callable[[], object]) -> int:
        pgconn = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
        trace = tmp_path / "trace"
        with trace.open("w") as out:
            pgconn.trace(out.fileno())
            try:
                run()
            finally:
                pgconn.untrace()
        return sum(1 for line in trace.read_text().splitlines() if "\tSync" in line)

    alone = syncs(lambda: [on_cursor.run(connection, s, p) for s, p in calls])
    together = syncs(lambda: on_cursor.run_together(connection, calls))
    assert (alone, together) == (3, 1)
    # A write for many rows goes in the same pipeline, answered with the rest.
    notes = [{"b_id": n, "b_note": "x"} for n in range(3)]
    assert syncs(lambda: on_cursor.run_together(connection, [(WRITE, notes), *calls])) == 1

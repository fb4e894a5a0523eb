"""The dialog report's CSV cells made by the database, so that the export writes its rows as
they come: instants as ``iso_utc`` text, the working-hours flag as ``true``/``false``, and the
names a spreadsheet would run as a formula with a leading apostrophe (``export.csv_cell``
describes the cells). Null stays null, which the CSV writer prints as an empty cell."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, literal_column

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _sql(dialect: str, text: str) -> ColumnElement[str]:
    return literal_column(text, String)


def iso_instant(dialect: str, column: Any) -> ColumnElement[str]:
    """A stored UTC instant as ``2026-03-29T01:30:00Z`` (six fraction digits when it has
    any), as ``report.iso_utc`` writes it."""
    name = f"{column.table.name}.{column.name}"
    if dialect == "sqlite":
        # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: reshaped, not parsed.
        fraction = f"substr({name}, 21, 6)"
        return _sql(
            dialect,
            f"substr({name}, 1, 10) || 'T' || substr({name}, 12, 8) || CASE WHEN {fraction}"
            f" IN ('', '000000') THEN 'Z' ELSE '.' || {fraction} || 'Z' END",
        )
    utc = f"({name} AT TIME ZONE 'UTC')"
    return _sql(
        dialect,
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
        f" extract(microseconds FROM {name})::bigint % 1000000 = 0 THEN 'Z'"
        f" ELSE to_char({utc}, '.US') || 'Z' END",
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

"""After an upgrade, SQLite has statistics for every index of an analysed database, so that
a new index is not taken for a very selective one; a database never analysed is left alone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from core.db import make_engine, upgrade
from core.db.migrate import analyze_new_indexes

LINE = (
    "INSERT INTO lines (id, key, name, language, timezone, distribution, settings, created_at,"
    " source) VALUES (1, 'b', 'B', 'en', 'UTC', 'evenly', '{}', '2030-01-07 00:00:00', 'ui')"
)


def _stats(path: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        table = conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        if table.first() is None:
            return {}
        rows = conn.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE idx IS NOT NULL"))
        return {idx: stat for idx, stat in rows}


async def test_an_upgrade_analyses_the_indexes_an_analysed_database_lacks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine, "0022")
    async with engine.begin() as conn:
        await conn.execute(text(LINE))
        await conn.execute(text("ANALYZE"))
        # An index SQLite has no statistics for, as a migration's new index would be.
        await conn.execute(text("CREATE INDEX ix_lines_probe ON lines (timezone, name)"))
    assert "ix_lines_probe" not in _stats(path)
    await upgrade(engine)
    await engine.dispose()
    assert _stats(path)["ix_lines_probe"] == "1 1 1"


async def test_a_database_never_analysed_gets_no_statistics(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine, "0022")
    async with engine.begin() as conn:
        await conn.execute(text(LINE))
    await upgrade(engine)
    await engine.dispose()
    assert _stats(path) == {}
    with create_engine(f"sqlite:///{path}").connect() as conn:
        assert analyze_new_indexes(conn) == []

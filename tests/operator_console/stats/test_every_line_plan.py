"""A report of every line puts no line condition on the dialogs, so that SQLite without
statistics (a hub's database: the hub never runs ANALYZE) walks the start index in the
page's order instead of a line index and a sort of every dialog; a scope of some lines keeps
its condition."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import make_engine, make_sessionmaker
from core.db.migrate import upgrade
from operator_console.stats.dialogs import select_dialogs
from operator_console.stats.filters import ReportQuery
from operator_console.stats.report import sorted_select
from operator_console.stats.scope import EVERYTHING, StatsScope
from tests.operator_console.stats.dataset import make_places


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}")
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    await make_places(sessions)
    async with sessions() as session:
        yield session
    await engine.dispose()


async def _plan(session: AsyncSession, scope: StatsScope) -> tuple[str, str]:
    """The first page's SQL and SQLite's plan of it."""
    query = ReportQuery()
    stmt = await sorted_select(session, await select_dialogs(session, query, scope), query)
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    rows = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
    return sql, "\n".join(row[-1] for row in rows)


async def test_every_line_walks_the_start_index_and_some_lines_keep_their_condition(
    session: AsyncSession,
) -> None:
    assert (
        await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        == 0
    )
    sql, plan = await _plan(session, EVERYTHING)
    assert "dialogs.line_id IN" not in sql
    assert "ix_dialogs_opened_at" in plan and "TEMP B-TREE" not in plan, plan
    line_ids = [i for i in await session.scalars(text("SELECT id FROM lines ORDER BY id"))]
    some = StatsScope(line_ids=frozenset(line_ids[:1]), operator_ids=None)
    sql, _plan_of_some = await _plan(session, some)
    assert "dialogs.line_id IN" in sql

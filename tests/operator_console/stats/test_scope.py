"""Whose figures each role reads: admin and analyst every line, a manager their lines (directly
or through a group) and the operators of those lines and of their groups, an operator their own
dialogs only. Also: an analyst never gets a dialog, even when a queue still names them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from core.db import SessionMaker
from core.db.routing_schema import LineGroup, OperatorGroup, OperatorGroupMember
from core.db.schema import Dialog, Line, LineOperator, Operator
from core.envelope import utcnow
from operator_console.stats import StatsScope, stats_scope
from router.batch import Batch
from router.reads import line_queue
from tests.operator_console.stats.world import add_client_dialog
from tests.support.router_db import seeded_database


@dataclass
class People:
    sessions: SessionMaker
    ids: dict[str, int]
    lines: dict[str, int]


async def _person(sessions: SessionMaker, login: str, role: str) -> int:
    async with sessions() as s, s.begin():
        op = Operator(login=login, name=login.title(), role=role, password_hash="x")
        s.add(op)
        await s.flush()
        return op.id


@pytest.fixture
async def people(db_url: str) -> AsyncIterator[People]:
    """Lines ``a`` (demo), ``b`` and ``c``; ``olga`` on a, ``petr`` on b, ``ivan`` on c;
    manager ``mara`` directly on b, manager ``gleb`` in group ``night`` that serves line c
    with ``ivan``; ``lena`` in gleb's group ``night`` too; analyst ``ann``."""
    engine, sessions = await seeded_database(db_url)
    ids = {
        login: await _person(sessions, login, role)
        for login, role in [
            ("olga", "operator"),
            ("petr", "operator"),
            ("ivan", "operator"),
            ("lena", "operator"),
            ("mara", "manager"),
            ("gleb", "manager"),
            ("ann", "analyst"),
        ]
    }
    async with sessions() as s, s.begin():
        ids["admin"] = await s.scalar(select(Operator.id).where(Operator.login == "admin")) or 0
        b, c = Line(key="b", name="B"), Line(key="c", name="C")
        night = OperatorGroup(name="night")
        s.add_all([b, c, night])
        await s.flush()
        s.add_all(
            [
                LineOperator(line_id=1, operator_id=ids["olga"]),
                LineOperator(line_id=b.id, operator_id=ids["petr"]),
                LineOperator(line_id=b.id, operator_id=ids["mara"]),
                LineOperator(line_id=c.id, operator_id=ids["ivan"]),
                OperatorGroupMember(group_id=night.id, operator_id=ids["gleb"]),
                OperatorGroupMember(group_id=night.id, operator_id=ids["lena"]),
                LineGroup(line_id=c.id, group_id=night.id),
            ]
        )
    yield People(sessions, ids, {"a": 1, "b": b.id, "c": c.id})
    await engine.dispose()


async def _scope(people: People, login: str) -> StatsScope:
    async with people.sessions() as s:
        operator = await s.get(Operator, people.ids[login])
        assert operator is not None
        return await stats_scope(s, operator)


async def test_admin_and_analyst_read_every_line(people: People) -> None:
    for login in ("admin", "ann"):
        scope = await _scope(people, login)
        assert scope.line_ids is None and scope.operator_ids is None


async def test_manager_reads_the_lines_they_are_on_directly(people: People) -> None:
    scope = await _scope(people, "mara")
    assert scope.line_ids == frozenset({people.lines["b"]})
    assert scope.operator_ids == frozenset({people.ids["petr"], people.ids["mara"]})
    assert not scope.own_dialogs


async def test_manager_reads_lines_and_members_through_their_group(people: People) -> None:
    scope = await _scope(people, "gleb")
    assert scope.line_ids == frozenset({people.lines["c"]})
    # ivan serves line c directly; lena is in gleb's group.
    assert scope.operator_ids == frozenset(
        {people.ids["gleb"], people.ids["ivan"], people.ids["lena"]}
    )


async def test_operator_reads_their_own_dialogs_only(people: People) -> None:
    scope = await _scope(people, "olga")
    assert scope == StatsScope(
        line_ids=frozenset({1}), operator_ids=frozenset({people.ids["olga"]}), own_dialogs=True
    )


async def test_scope_condition_selects_the_dialogs_each_role_may_read(people: People) -> None:
    lines, ids = people.lines, people.ids
    made = {
        "olga_a": await add_client_dialog(people.sessions, 1, 1, operator_id=ids["olga"]),
        "missed_a": await add_client_dialog(people.sessions, 1, 1, operator_id=None),
        "petr_b": await add_client_dialog(people.sessions, lines["b"], 1, operator_id=ids["petr"]),
        "missed_b": await add_client_dialog(people.sessions, lines["b"], 1, operator_id=None),
        "ivan_c": await add_client_dialog(people.sessions, lines["c"], 1, operator_id=ids["ivan"]),
        # olga once helped on line b: not hers to read there, as she is not on line b.
        "olga_b": await add_client_dialog(people.sessions, lines["b"], 1, operator_id=ids["olga"]),
    }
    names = {dialog_id: name for name, dialog_id in made.items()}

    async def readable(login: str) -> set[str]:
        scope = await _scope(people, login)
        async with people.sessions() as s:
            return {names[i] for i in await s.scalars(select(Dialog.id).where(scope.dialogs()))}

    assert await readable("admin") == set(made)
    assert await readable("ann") == set(made)
    assert await readable("mara") == {"petr_b", "missed_b", "olga_b"}
    assert await readable("gleb") == {"ivan_c"}
    assert await readable("olga") == {"olga_a"}
    assert await readable("petr") == {"petr_b"}


async def test_analyst_named_in_a_queue_is_never_offered_dialogs(people: People) -> None:
    # Only a hand-edited database can hold this; the admin API refuses it (test_analyst.py).
    async with people.sessions() as s, s.begin():
        s.add(LineOperator(line_id=people.lines["b"], operator_id=people.ids["ann"]))
        night = await s.scalar(select(OperatorGroup.id))
        s.add(OperatorGroupMember(group_id=night or 0, operator_id=people.ids["ann"]))
    async with people.sessions() as s:
        batch = Batch(s, utcnow())
        for line in ("b", "c"):
            queue = [op.id for _member, op in await line_queue(batch, people.lines[line])]
            assert queue and people.ids["ann"] not in queue

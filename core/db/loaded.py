"""Entities read on the driver's cursor and given to the session as the ORM's read gives them.

An ORM read of one dialog by id cost about 330 µs of CPU on the router's writer thread
(SQLite), against about 120 µs for the same row read on the cursor (``core.db.on_cursor``)
and made into the entity here: the ORM's execution builds a compile state, a result and a
loading context at every call. The row becomes the entity as the ORM's loader makes one: its
column values go into the instance's dictionary without history, and the instance joins the
session's identity map as persistent, as the loader places one (``adopt``). An entity the
session holds already is returned as it is, as an ORM read without ``populate_existing``
returns it.

``read_again`` reads rows that the session may hold as they were before another transaction's
commit, and puts the stored values over the held entities, as ``populate_existing`` does.

For entities of columns only, with a one-column primary key: nothing here loads
relationships.

The other way round, ``stored`` writes a new entity by one ``INSERT … RETURNING`` and gives it
to the session as persistent: through the unit of work, a flush for one row (to learn its id)
cost several times the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from core.db.on_cursor import Call, core_rows

T = TypeVar("T")

Lock = Literal["wait", "nowait"] | None
"""Whether ``read_again`` holds the rows it reads, and whether it waits for them."""


@dataclass(frozen=True)
class Shape:
    """How an entity's row is read: its columns, labelled, in the order of ``keys``."""

    mapper: Mapper[Any]
    keys: tuple[str, ...]
    columns: tuple[Any, ...]
    primary: int
    """The primary key's place in ``keys``."""


@cache
def shape(entity: Any, prefix: str = "") -> Shape:
    """The columns of ``entity`` as a statement selects them, each labelled ``prefix`` and
    its attribute's name (a prefix keeps two entities of one row apart)."""
    mapper: Mapper[Any] = inspect(entity)
    if len(mapper.primary_key) != 1 or mapper.relationships:
        raise TypeError(f"{entity.__name__}: not an entity of columns with a one-column key")
    attributes = list(mapper.column_attrs)
    keys = tuple(a.key for a in attributes)
    primary = next(i for i, a in enumerate(attributes) if a.columns[0] is mapper.primary_key[0])
    columns = tuple(a.columns[0].label(prefix + a.key) for a in attributes)
    return Shape(mapper, keys, columns, primary)


def adopt(session: Session, of: Shape, values: Sequence[Any]) -> Any:
    """The entity of ``values`` (a row of ``of.columns``) in ``session``: the one it holds, or
    a new one, persistent, as if the ORM had loaded it."""
    key = of.mapper.identity_key_from_primary_key((values[of.primary],))
    held = session.identity_map.get(key)
    if held is not None:
        return held
    entity = of.mapper.class_manager.new_instance()
    entity.__dict__.update(zip(of.keys, values, strict=True))
    # Attached as the ORM's loader attaches a row it made an entity: the key set, the state
    # placed in the identity map, the session's "loaded as persistent" event fired (a holding
    # session keeps the entity by it, ``core.db.held``). ``make_transient_to_detached`` with
    # ``Session.add`` take four times as long for the same state: they reset a history the
    # entity has not got, walk a cascade over no relationships and fire a detached entity's
    # attach events, a tenth of the router's CPU at saturation.
    state = instance_state(entity)
    state.key = key
    state.session_id = session.hash_key
    session.identity_map.add(state)
    session.dispatch.loaded_as_persistent(session, state)
    return entity


@cache
def _by_ids(entity: Any) -> Any:
    of = shape(entity)
    return select(*of.columns).where(of.mapper.primary_key[0].in_(bindparam("ids", expanding=True)))


async def by_ids(session: AsyncSession, entity: type[T], ids: Sequence[int]) -> list[T]:
    """The entities of ``entity`` with these ids, in the session (no order)."""
    if not ids:
        return []
    return adopt_rows(session, entity, await core_rows(session, *by_ids_read(entity, ids)))


def by_ids_read(entity: type[Any], ids: Sequence[int]) -> Call:
    """The read of ``by_ids``, to run with others (``core_rows_together``); its rows go to
    ``adopt_rows``."""
    kind: Any = entity  # a class, which the caches take as a key
    return _by_ids(kind), {"ids": list(ids)}


def adopt_rows(session: AsyncSession, entity: type[T], rows: Sequence[Any]) -> list[T]:
    """The entities of the rows ``by_ids_read`` found, in the session."""
    kind: Any = entity
    of = shape(kind)
    sync = session.sync_session
    return [adopt(sync, of, row) for row in rows]


@cache
def _again_by_ids(entity: Any, lock: Lock) -> Any:
    # In key order: rows locked in one order never wait in a cycle.
    statement = _by_ids(entity).order_by(shape(entity).mapper.primary_key[0])
    if lock is not None:
        statement = statement.with_for_update(key_share=True, nowait=lock == "nowait")
    return statement


async def read_again(
    session: AsyncSession, entity: type[T], ids: Sequence[int], lock: Lock = None
) -> list[T]:
    """The entities of ``entity`` with these ids as stored now, in id order: one the session
    holds gets the stored values over its own, as an ORM read with ``populate_existing``
    gives them; the others are adopted.

    ``lock``: the rows are held until the transaction ends (``FOR NO KEY UPDATE``, on a
    database that has it), and with ``"nowait"`` a row another transaction holds fails the
    read at once."""
    if not ids:
        return []
    return again_rows(
        session, entity, await core_rows(session, *read_again_call(entity, ids, lock))
    )


def read_again_call(entity: type[Any], ids: Sequence[int], lock: Lock = None) -> Call:
    """The read of ``read_again``, to run with others (``core_rows_together``); its rows go
    to ``again_rows``."""
    kind: Any = entity  # a class, which the caches take as a key
    return _again_by_ids(kind, lock), {"ids": list(ids)}


def again_rows(session: AsyncSession, entity: type[T], rows: Sequence[Any]) -> list[T]:
    """The entities of the rows ``read_again_call`` found, as ``read_again`` gives them."""
    kind: Any = entity
    of = shape(kind)
    sync = session.sync_session
    found = []
    for row in rows:
        held = sync.identity_map.get(of.mapper.identity_key_from_primary_key((row[of.primary],)))
        if held is None:
            found.append(adopt(sync, of, row))
            continue
        for key, value in zip(of.keys, row, strict=True):
            set_committed_value(held, key, value)
        found.append(held)
    return found


async def get(session: AsyncSession, entity: type[T], ident: int) -> T | None:
    """``session.get`` on the cursor: the entity the session holds, else read as a row and
    adopted; None when there is no such row."""
    kind: Any = entity
    held = session.sync_session.identity_map.get(
        shape(kind).mapper.identity_key_from_primary_key((ident,))
    )
    if held is None:
        found = await by_ids(session, entity, [ident])
        return found[0] if found else None
    if inspect(held).expired_attributes:
        return await session.get(entity, ident)  # the ORM's read refreshes what expired
    return cast(T, held)


async def stored(session: AsyncSession, entity: T) -> T:
    """Store ``entity``, new and in no session, by one INSERT … RETURNING on the cursor, and
    give it to ``session`` as persistent, with its id and every column as stored.

    The INSERT names every column but the key: the value set on the entity, else the column's
    default when that is a constant. A column whose default is computed (a time, say) and was
    not set goes to the statement's own default, which runs it through SQLAlchemy instead of
    on the cursor (``core.db.on_cursor``): set such a column. No flush hook sees the row: what
    one would do for it is the caller's (``core.db.figures.prepare_new_dialog``).
    """
    kind: Any = type(entity)
    of, statement, defaults = _insert_of(kind)
    [row] = await core_rows(session, statement, _values(of, defaults, entity))
    _persist(session, of, entity, row)
    return entity


async def stored_all(
    session: AsyncSession, entities: Sequence[T], key: Callable[[Any], Hashable]
) -> list[T]:
    """``stored`` for new entities of one kind, in one INSERT … RETURNING (in pages, as the
    cursor pages long ones) instead of one each.

    The returned rows come back in no promised order, so ``key`` (of an entity, and of a
    returned row by its attributes) matches them. Entities of one key must be alike in every
    column set: any of them may take any of their rows, which are alike but for the id."""
    if not entities:
        return []
    kind: Any = type(entities[0])
    of, statement, defaults = _insert_of(kind)
    values = [_values(of, defaults, entity) for entity in entities]
    if any(v.keys() != values[0].keys() for v in values):
        raise ValueError(f"{kind.__name__}: the entities set different columns")
    rows: dict[Hashable, list[Any]] = {}
    # Last row first, so that alike entities take their rows in the order the database
    # returned them: in the order of the VALUES, as SQLite and PostgreSQL do in practice.
    for row in reversed(await core_rows(session, statement, values)):
        rows.setdefault(key(row), []).append(row)
    for entity in entities:
        _persist(session, of, entity, rows[key(entity)].pop())
    return list(entities)


def _values(of: Shape, defaults: dict[str, Any], entity: Any) -> dict[str, Any]:
    given = entity.__dict__
    return {
        key: given[key] if key in given else defaults[key]
        for key in of.keys
        if key in given or key in defaults
    }


def _persist(session: AsyncSession, of: Shape, entity: Any, row: Sequence[Any]) -> None:
    entity.__dict__.update(zip(of.keys, row, strict=True))
    make_transient_to_detached(entity)  # what was set is now what is stored
    session.sync_session.add(entity)


@cache
def _insert_of(entity: Any) -> tuple[Shape, Any, dict[str, Any]]:
    of = shape(entity)
    defaults: dict[str, Any] = {}
    for index, key in enumerate(of.keys):
        default: Any = of.mapper.columns[key].default
        if index != of.primary and default is not None and default.is_scalar:
            defaults[key] = default.arg
    table: Any = of.mapper.local_table
    return of, insert(table).returning(*of.columns), defaults

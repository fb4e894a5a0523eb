"""Keeps the daily rollup of the statistics (``core.db.rollup_schema``) true.

At every flush of a hub session, after the stored figures (``core.db.figures``), each new,
changed or deleted dialog takes its old contribution out of the rollup and puts its new one
in: one upsert of the summed differences per key, in the transaction that writes the dialog.
The router is the writer; a dialog written any other way through a hub session (a seed, a
test) counts the same. Statements that write many dialogs at once (``update(Dialog)``,
``delete(Dialog)``) bypass the unit of work and must keep the rollup themselves, as the
message counters do (``core.db.counters``, through ``add_messages``).

A session given to ``defer_to_commit`` (the router's) gathers those differences instead and
writes them once, just before its commit: a dialog opened and assigned in the same transaction
moves nothing out of the row "nobody" again, and a batch of them costs one upsert per key, not
two per dialog.

``backfill`` fills the rollup from the dialogs' stored figures (migration 0018);
``backfill_months`` sums the daily first response counts into the monthly ones (0022).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import NO_VALUE, PASSIVE_NO_RESULT

from core.db import on_cursor
from core.db.rollup_schema import (
    HOURS,
    KEY,
    NOBODY,
    SUMMED,
    UNKNOWN_HOURS,
    DialogDay,
    DialogDayResponse,
    DialogMonthResponse,
)
from core.db.schema import Dialog

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PgInsert

COUNTED = (
    "day_of",
    "line_id",
    "channel_id",
    "operator_id",
    "began_in_hours",
    "outcome",
    "duration_s",
    "client_messages",
    "operator_messages",
    "rating",
    "opened_hour",
    "first_response_s",
    "business_frt_s",
)
"""The dialog attributes a contribution is made of (``day_of`` is ``opened_day``)."""

DAYS = cast(Table, DialogDay.__table__)
RESPONSES = cast(Table, DialogDayResponse.__table__)
MONTHS = cast(Table, DialogMonthResponse.__table__)
MONTH_KEY = ("business", "grain", "month", "line_id", "part_id", "in_hours", "seconds")

Key = tuple[str, int, int, int, int]
Sums = dict[Key, list[int]]
Responses = dict[tuple[Key, bool, int], int]
MonthResponses = dict[tuple[bool, str, str, int, int, int, int], int]


class _Unknown:
    """An attribute's stored value that the session does not hold."""


UNKNOWN = _Unknown()


def _state(dialog: Dialog, old: bool) -> dict[str, Any]:
    """The contribution's attributes now, or as the database holds them (``old``), where an
    attribute set without its stored value having been loaded is ``UNKNOWN``."""
    # An attribute set since the last flush keeps its stored value in ``committed_state``
    # (NO_VALUE when it was never loaded); the others hold what the database holds. Read
    # there, not through ``get_history`` per attribute: that cost more than the rest of the
    # rollup's Python at every flush of the router's.
    committed = inspect(dialog).committed_state if old else {}
    out: dict[str, Any] = {}
    for name in COUNTED:
        column = "opened_day" if name == "day_of" else name
        stored = committed.get(column, _CURRENT)
        if stored is _CURRENT:
            out[name] = getattr(dialog, column)
        elif stored is NO_VALUE or stored is PASSIVE_NO_RESULT:
            out[name] = UNKNOWN
        else:
            out[name] = stored
    return out


_CURRENT = object()
"""Not in ``committed_state``: the attribute holds its stored value."""


def _stored(session: Session, states: dict[int, dict[str, Any]]) -> None:
    """Fill in the ``UNKNOWN`` attributes of these old states from the database."""
    missing = [i for i, state in states.items() if UNKNOWN in state.values()]
    if not missing:
        return
    rows = session.connection().execute(_stored_statement(), {"ids": missing})
    for dialog_id, *values in rows:
        state = states[dialog_id]
        for name, value in zip(COUNTED, values, strict=True):
            if state[name] is UNKNOWN:
                state[name] = value


@cache
def _stored_statement() -> Any:
    """``_stored``'s read of the counted columns of the dialogs bound as ``ids``, built once."""
    columns = [getattr(Dialog, "opened_day" if n == "day_of" else n) for n in COUNTED]
    return select(Dialog.id, *columns).where(Dialog.id.in_(bindparam("ids", expanding=True)))


_NO_HOUR = (0,) * len(HOURS)
_HOUR_ROWS = {hour: tuple(int(h == hour) for h in range(len(HOURS))) for hour in range(len(HOURS))}
"""Each opened hour's counts, one per hour of the day."""


def _key(state: dict[str, Any]) -> Key:
    return _key_of(state["day_of"], state["line_id"], state["channel_id"], state["operator_id"],
                   state["began_in_hours"])  # fmt: skip


def _key_of(
    day: str, line_id: int, channel_id: int, operator_id: int | None, in_hours: bool | None
) -> Key:
    """The rollup row of a dialog opened on ``day`` with these attributes."""
    return (day, line_id, channel_id, operator_id or NOBODY,
            UNKNOWN_HOURS if in_hours is None else int(bool(in_hours)))  # fmt: skip


def _contribute(state: dict[str, Any], sign: int, sums: Sums, responses: Responses) -> None:
    """Add (``sign`` 1) or take out (-1) one dialog's contribution."""
    if state["day_of"] is None:
        return
    key = _key(state)
    rating, duration = state["rating"], state["duration_s"]
    row = [
        1,
        int(state["outcome"] == "missed"),
        int(duration is not None),
        duration or 0,
        (state["client_messages"] or 0) + (state["operator_messages"] or 0),
        int(rating is not None),
        rating or 0,
        int(rating is not None and rating >= 4),
        *(int(rating == star) for star in range(1, 6)),
        *_HOUR_ROWS.get(state["opened_hour"], _NO_HOUR),
    ]
    into = sums.setdefault(key, [0] * len(SUMMED))
    for i, value in enumerate(row):
        into[i] += sign * value
    for business, name in ((False, "first_response_s"), (True, "business_frt_s")):
        if state[name] is not None:
            at = (key, business, state[name])
            responses[at] = responses.get(at, 0) + sign


def refresh_rollup(
    session: Session, new: Iterable[Dialog], changed: Iterable[Dialog], gone: Iterable[Dialog]
) -> None:
    """Move the contributions of these dialogs in the rollup: ``new`` ones are added,
    ``changed`` ones move from their stored state to their current one, ``gone`` ones (being
    deleted) are taken out."""
    sums: Sums = {}
    responses: Responses = {}
    with session.no_autoflush:
        leaving = {d.id: _state(d, old=True) for d in [*changed, *gone]}
        _stored(session, leaving)
        for state in leaving.values():
            _contribute(state, -1, sums, responses)
        for dialog in [*new, *changed]:
            _contribute(_state(dialog, old=False), 1, sums, responses)
    _write_or_gather(session, sums, responses)


def move_stored(session: Session, dialog: Dialog, values: dict[str, Any]) -> None:
    """Move the contribution of ``dialog``, which holds no pending change, to ``values``
    written by a statement of its own; the entity takes them as stored."""
    sums: Sums = {}
    responses: Responses = {}
    _contribute(_state(dialog, old=False), -1, sums, responses)
    for name, value in values.items():
        set_committed_value(dialog, name, value)
    _contribute(_state(dialog, old=False), 1, sums, responses)
    _write_or_gather(session, sums, responses)


def add_messages(session: Session, added: Iterable[tuple[Dialog, int]]) -> None:
    """Add to the rollup messages that these dialogs' counters gained by a statement of their
    own (``core.db.counters``), each dialog as the database holds it otherwise."""
    messages = SUMMED.index("messages")
    sums: Sums = {}
    for dialog, count in added:
        # The key's five attributes only: a whole contribution (``_state``) reads thirteen,
        # and this runs for every message the router counts.
        day = dialog.opened_day
        if day is not None:
            key = _key_of(day, dialog.line_id, dialog.channel_id, dialog.operator_id,
                          dialog.began_in_hours)  # fmt: skip
            sums.setdefault(key, [0] * len(SUMMED))[messages] += count
    _write_or_gather(session, sums, {})


GATHERED = "rollup gathered"
"""``session.info`` key of the differences a deferring session holds for its commit."""


def defer_to_commit(session: Session) -> None:
    """Gather the rollup's differences in ``session`` and write them just before it commits
    (``write_gathered``), instead of at each flush. Nothing may read the rollup in the
    session's transaction meanwhile: the router, which never does, defers."""
    session.info[GATHERED] = ({}, {})


def _write_or_gather(session: Session, sums: Sums, responses: Responses) -> None:
    gathered: tuple[Sums, Responses] | None = session.info.get(GATHERED)
    if gathered is None:
        write_differences(session.connection(), sums, responses)
        return
    into_sums, into_responses = gathered
    for key, row in sums.items():
        into = into_sums.setdefault(key, [0] * len(SUMMED))
        for i, value in enumerate(row):
            into[i] += value
    for at, n in responses.items():
        into_responses[at] = into_responses.get(at, 0) + n


AT_COMMIT = "writes at commit"
"""``session.info`` key of the writes a deferring session sends with the rollup's."""


def at_commit(session: Session, call: on_cursor.Call) -> bool:
    """Note a write that nothing in the transaction reads back, to be sent with the rollup's
    differences just before a deferring session commits (``write_gathered``): in one round
    trip with them where the driver can. False for a session that does not defer: its caller
    writes now."""
    if session.info.get(GATHERED) is None:
        return False
    session.info.setdefault(AT_COMMIT, []).append(call)
    return True


def write_gathered(session: Session) -> None:
    """The ``before_commit`` hook: a deferring session's last changes flushed, then the
    writes noted for the commit (``at_commit``) and the differences gathered in the
    transaction, written in it together."""
    if session.info.get(GATHERED) is None:
        return
    # The commit flushes only after this hook: the rollup must see that flush too.
    session.flush()
    sums, responses = session.info[GATHERED]
    noted: list[on_cursor.Call] = session.info.pop(AT_COMMIT, [])
    defer_to_commit(session)  # the next transaction of the session gathers afresh
    write_differences(session.connection(), sums, responses, noted)


def drop_gathered(session: Session) -> None:
    """The ``after_rollback`` hook: the differences of a rolled back transaction go with it,
    and so do its writes noted for the commit."""
    if session.info.get(GATHERED) is not None:
        session.info.pop(AT_COMMIT, None)
        defer_to_commit(session)


def upsert_into(dialect: str, table: Table) -> PgInsert | SqliteInsert:
    """An ``INSERT`` into ``table`` in the ``dialect`` named, which takes ``ON CONFLICT``.

    PostgreSQL's dialect is imported by the first upsert on PostgreSQL: on SQLite it would
    only add to every start of the hub.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    return sqlite_insert(table)


@cache
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    """The upsert of ``table`` on ``keys``, built once: it runs at nearly every flush, and
    building it again (an ``excluded`` alias and an addition per counted column) cost more
    than running it; one statement object also keeps its cache key, so it is not walked again.
    """
    stmt = upsert_into(dialect, table)
    counted = [c.name for c in table.columns if c.name not in keys and c.name != "weekday"]
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + stmt.excluded[name] for name in counted},
    )


@cache
def _emptied_statement(table: Table, keys: tuple[str, ...], *extra: str) -> Any:
    """The delete of ``table``'s rows that no dialog counts any more, one row per parameter
    set: ``k_<name>`` for each of ``keys``, then ``k_<first letter>`` for each ``extra``."""
    where = [table.c[k] == bindparam("k_" + k) for k in keys]
    where += [table.c[k] == bindparam("k_" + k[0]) for k in extra]
    return delete(table).where(and_(*where), table.c.dialogs == 0)


def write_differences(
    connection: Connection,
    sums: Sums,
    responses: Responses,
    first: Sequence[on_cursor.Call] = (),
) -> None:
    """Add ``sums`` and ``responses`` to the rollup's rows, then delete the rows they empty
    (``rollup_writes``). The calls ``first`` (the writes noted for the commit) go ahead of
    these, in the same hand-off to the cursor."""
    calls = [*first, *rollup_writes(connection.dialect.name, sums, responses)]
    if calls:
        on_cursor.run_together(connection, calls)


def rollup_writes(dialect: str, sums: Sums, responses: Responses) -> list[on_cursor.Call]:
    """The statements that add ``sums`` and ``responses`` to the rollup's rows and delete the
    rows they empty, in order, for a database of ``dialect``.

    Each table's rows are written in the order of their keys. Routers in processes of their
    own (PostgreSQL) write the same few rows (a line's day, per operator), and an upsert locks
    its rows one after the other until the commit: two routers that took two of them in
    opposite orders deadlocked, and one batch waited a second (``deadlock_timeout``) to be
    rolled back and run again. In one order, the second waits only for the first's commit.
    """
    sums = dict(sorted(sums.items()))
    responses = dict(sorted(responses.items()))
    days = [
        {
            **dict(zip(KEY, key, strict=True)),
            "weekday": date.fromisoformat(key[0]).weekday(),
            **dict(zip(SUMMED, row, strict=True)),
        }
        for key, row in sums.items()
        if any(row)
    ]
    answered = [
        {**dict(zip(KEY, key, strict=True)), "business": business, "seconds": s, "dialogs": n}
        for (key, business, s), n in responses.items()
        if n
    ]
    calls: list[on_cursor.Call] = []
    if days:
        calls.append((_upsert_statement(dialect, DAYS, KEY), days))
    if answered:
        keys = (*KEY, "business", "seconds")
        calls.append((_upsert_statement(dialect, RESPONSES, keys), answered))
    calls.extend(_month_writes(dialect, _months(responses)))
    # Rows that the last of their dialogs left.
    emptied = [dict(zip(KEY, key, strict=True)) for key, row in sums.items() if row[0] < 0]
    if emptied:
        keyed = [{"k_" + k: v for k, v in row.items()} for row in emptied]
        calls.append((_emptied_statement(DAYS, KEY), keyed))
    fewer = [
        {**{"k_" + k: v for k, v in zip(KEY, key, strict=True)}, "k_b": b, "k_s": s}
        for (key, b, s), n in responses.items()
        if n < 0
    ]
    if fewer:
        calls.append((_emptied_statement(RESPONSES, KEY, "business", "seconds"), fewer))
    return calls


def _months(responses: Responses) -> MonthResponses:
    """The daily first response differences summed per month, in both grains."""
    out: MonthResponses = {}
    for ((day, line_id, channel_id, operator_id, in_hours), business, s), n in responses.items():
        month = day[:7]
        for grain, part_id in (("channel", channel_id), ("operator", operator_id)):
            at = (business, grain, month, line_id, part_id, in_hours, s)
            out[at] = out.get(at, 0) + n
    return out


def _month_writes(dialect: str, months: MonthResponses) -> list[on_cursor.Call]:
    """The statements that add the monthly differences, then delete the rows that dropped to
    no dialogs; in the order of their keys, as ``rollup_writes`` writes."""
    months = dict(sorted(months.items()))
    rows = [
        {**dict(zip(MONTH_KEY, at, strict=True)), "dialogs": n} for at, n in months.items() if n
    ]
    calls: list[on_cursor.Call] = []
    if rows:
        calls.append((_upsert_statement(dialect, MONTHS, MONTH_KEY), rows))
    fewer = [
        {"k_" + k: v for k, v in zip(MONTH_KEY, at, strict=True)}
        for at, n in months.items()
        if n < 0
    ]
    if fewer:
        calls.append((_emptied_statement(MONTHS, MONTH_KEY), fewer))
    return calls


def _key_columns() -> list[Any]:
    d = Dialog
    return [
        d.opened_day,
        d.line_id,
        d.channel_id,
        func.coalesce(d.operator_id, NOBODY),
        case((d.began_in_hours.is_(None), UNKNOWN_HOURS), (d.began_in_hours.is_(True), 1), else_=0),
    ]


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def backfill(connection: Connection) -> None:
    """Fill the (empty) rollup from every dialog's stored figures."""
    d = Dialog
    keys = _key_columns()
    sums = select(
        *keys,
        func.min(d.opened_weekday),
        func.count(),
        _count(d.outcome == "missed"),
        func.count(d.duration_s),
        func.coalesce(func.sum(d.duration_s), 0),
        func.sum(func.coalesce(d.client_messages, 0) + func.coalesce(d.operator_messages, 0)),
        func.count(d.rating),
        func.coalesce(func.sum(d.rating), 0),
        _count(d.rating >= 4),
        *(_count(d.rating == star) for star in range(1, 6)),
        *(_count(d.opened_hour == hour) for hour in range(len(HOURS))),
    ).where(d.opened_day.is_not(None))
    days = DAYS
    columns = [*KEY, "weekday", *SUMMED]
    connection.execute(insert(days).from_select(columns, sums.group_by(*keys)))
    for business, figure in ((False, d.first_response_s), (True, d.business_frt_s)):
        counts = (
            select(*keys, literal(business, Boolean), figure, func.count())
            .where(d.opened_day.is_not(None), figure.is_not(None))
            .group_by(*keys, figure)
        )
        connection.execute(
            insert(RESPONSES).from_select([*KEY, "business", "seconds", "dialogs"], counts)
        )


def backfill_months(connection: Connection) -> None:
    """Fill the (empty) monthly first response counts from the daily ones."""
    r = RESPONSES.c
    month = func.substr(r.day, 1, 7)
    for grain, part in (("channel", r.channel_id), ("operator", r.operator_id)):
        keys = [r.business, month, r.line_id, part, r.in_hours, r.seconds]
        counts = select(
            r.business,
            literal(grain),
            month,
            r.line_id,
            part,
            r.in_hours,
            r.seconds,
            func.sum(r.dialogs),
        ).group_by(*keys)
        connection.execute(insert(MONTHS).from_select([*MONTH_KEY, "dialogs"], counts))

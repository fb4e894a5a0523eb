"""The console's most frequent reads, a dialog with its messages and the list of dialogs, read
in one snapshot on the held SQLite connection (or PostgreSQL's asyncpg pool), without the ORM.

Through a session a dialog read was five statements of the async ORM, each paying for a
greenlet, a statement's cache key, an execution context, a hand-off to aiosqlite's thread and
back, and the entities built from its rows: 4–5 ms of the console's CPU for a dialog of ten
messages, and more the more requests waited at once (docs/BENCHMARKS.md, "7 December: console
workers"). Here each statement is built once per role and compiled once
(``core.db.on_cursor``), and runs on the event loop on the connection the console already
holds for the replies' reads (``operator_console.dialog_status``): in WAL mode a read never
waits for the writer. The views are made from the rows by the same ``dialog_view`` and
``message_view`` the router's events use.

On PostgreSQL the same statements run on the console's pool of asyncpg connections
(``operator_console.dialog_status_pg``), in one read-only transaction. Where there is neither (an
in-memory SQLite, a database other than these two) or SQLite is busy, the caller reads through
its session (``operator_console.dialog_views``), which gives the same views
(tests/operator_console/test_dialog_reads.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel
from sqlalchemy import BindParameter, Integer, Select, bindparam, func, select

from core.audience import visible_dialogs
from core.db.routing_schema import DialogOffer, DialogParticipant
from core.db.schema import Channel, Client, Dialog, Line, Message
from core.envelope import DialogView, MessageView
from core.views import dialog_view, message_view
from operator_console.dialog_status import DialogStatusReader, NotHere
from operator_console.dialog_status_pg import Read

LIST_LIMIT = 500
"""Dialogs in a list, the most recently active first."""
THREAD_PAGE = 100
"""The newest messages of a dialog that its read gives. The console asks for earlier ones a page
at a time (``GET /api/dialogs/{id}/messages?before=``): read whole, a dialog of 1 000 messages
cost 9.7 ms of CPU and a 235 KiB answer, one of 5 000 51 ms and 1.2 MB (docs/BENCHMARKS.md)."""

VIEW_COLUMNS = (
    Dialog.id,
    Dialog.operator_id,
    Dialog.status,
    Dialog.opened_at,
    Dialog.closed_at,
    Dialog.began_in_hours,
    Dialog.outcome,
    Dialog.rating,
    Dialog.rating_comment,
    Dialog.first_response_at,
    Line.id.label("line_id"),
    Line.name.label("line_name"),
    Channel.kind.label("channel_kind"),
    Client.id.label("client_id"),
    Client.name.label("client_name"),
)
"""What a dialog's view shows, named as ``dialog_view`` reads it off a dialog."""

MESSAGE_COLUMNS = (
    Message.id,
    Message.dialog_id,
    Message.author,
    Message.author_name,
    Message.text,
    Message.client_msg_id,
    Message.created_at,
    Message.attachments,
    Message.hidden,
    Message.delivery_status,
    Message.delivery_error,
    Message.edits,
)
"""What a message's view shows (``core.views.ShownMessage``)."""

_IDS: BindParameter[int] = bindparam("ids", expanding=True)

ViewSelect = Select[*tuple[Any, ...]]
M = TypeVar("M")


class _Named(NamedTuple):
    id: int
    name: str


class _Kind(NamedTuple):
    kind: str


class _Client(NamedTuple):
    id: int
    name: str | None


def _views_of(
    found: Sequence[Any],
    last: dict[int, Any],
    offers: dict[int, tuple[int, ...]],
    people: dict[int, tuple[int, ...]],
) -> list[DialogView]:
    return [
        dialog_view(
            row,
            _Named(row.line_id, row.line_name),
            _Kind(row.channel_kind),
            _Client(row.client_id, row.client_name),
            last.get(row.id),
            offers.get(row.id, ()),
            people.get(row.id, ()),
        )
        for row in found
    ]


def _dialogs() -> ViewSelect:
    return (
        select(*VIEW_COLUMNS)
        .join(Line, Line.id == Dialog.line_id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .join(Client, Client.id == Dialog.client_id)
    )


def _visible(query: ViewSelect, role: str) -> ViewSelect:
    rule = visible_dialogs(bindparam("operator_id", type_=Integer), role)
    return query if rule is None else query.where(rule)


@cache
def one_dialog(role: str) -> ViewSelect:
    """The dialog ``dialog_id`` when operator ``operator_id`` (of ``role``) may see it."""
    return _visible(_dialogs().where(Dialog.id == bindparam("dialog_id", type_=Integer)), role)


LIST_STATUSES = ("open", "closed", "all")
"""The lists of dialogs: open (waiting or open), closed, and all."""

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def listed(query: S, status: str) -> S:
    """``query`` narrowed to the list of ``status`` (``LIST_STATUSES``), the most recently
    active first (the session's reads narrow theirs with this too)."""
    if status == "open":
        query = query.where(Dialog.status.in_(("waiting", "open")))
    elif status == "closed":
        query = query.where(Dialog.status == "closed")
    return query.order_by(Dialog.last_message_at.desc(), Dialog.id.desc()).limit(LIST_LIMIT)


@cache
def dialog_list(role: str, status: str) -> ViewSelect:
    """The list of ``status`` that operator ``operator_id`` (of ``role``) may see."""
    return listed(_visible(_dialogs(), role), status)


NEWEST_MESSAGES = (
    select(*MESSAGE_COLUMNS)
    .where(Message.dialog_id == bindparam("dialog_id", type_=Integer))
    .order_by(Message.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
LAST_MESSAGES = select(*MESSAGE_COLUMNS).where(
    Message.id.in_(
        select(func.max(Message.id))
        .where(Message.dialog_id.in_(_IDS), Message.author != "system")
        .group_by(Message.dialog_id)
    )
)
"""The preview of each dialog: the conversation's last message, not the line's greetings."""
OFFERS = (
    select(DialogOffer.dialog_id, DialogOffer.operator_id)
    .where(DialogOffer.dialog_id.in_(_IDS), DialogOffer.state == "pending")
    .order_by(DialogOffer.id)
)
PARTICIPANTS = (
    select(DialogParticipant.dialog_id, DialogParticipant.operator_id)
    .where(DialogParticipant.dialog_id.in_(_IDS))
    .order_by(DialogParticipant.joined_at, DialogParticipant.operator_id)
)


def _by_dialog(rows: Sequence[Any]) -> dict[int, tuple[int, ...]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for dialog_id, operator_id in rows:
        grouped[dialog_id].append(operator_id)
    return {k: tuple(v) for k, v in grouped.items()}


class DialogWithMessages(NamedTuple):
    """A dialog's view and its newest messages' (``THREAD_PAGE``), oldest first."""

    dialog: DialogView
    messages: list[MessageView]
    earlier: bool
    """Whether the dialog has messages before these."""

    def json(self) -> bytes:
        """The answer of ``GET /api/dialogs/{id}``."""
        answer = _DialogAnswer.model_construct(
            dialog=self.dialog, messages=self.messages, earlier=self.earlier
        )
        return answer.model_dump_json().encode()


NEWEST_READ = THREAD_PAGE + 1
"""How many of a dialog's newest messages to read for ``newest_page``: one more than a page
tells whether there are earlier ones."""


def newest_page(newest_first: Sequence[M]) -> tuple[list[M], bool]:
    """Of a dialog's newest ``NEWEST_READ`` messages, newest first: the page, oldest first, and
    whether there are earlier ones."""
    return list(reversed(newest_first[:THREAD_PAGE])), len(newest_first) > THREAD_PAGE


# The answers are serialized by pydantic in one call each, straight to JSON: dumping each view
# to Python values first and encoding those was a sixth of a list's CPU (docs/BENCHMARKS.md).
# The views in them are made and checked already, so the answers are put together unchecked.


class _DialogAnswer(BaseModel):
    dialog: DialogView
    messages: list[MessageView]
    earlier: bool


class _ListAnswer(BaseModel):
    dialogs: list[DialogView]


def list_json(views: list[DialogView]) -> bytes:
    """The answer of ``GET /api/dialogs``."""
    return _ListAnswer.model_construct(dialogs=views).model_dump_json().encode()


async def read_dialog(
    reader: DialogStatusReader, dialog_id: int, operator_id: int, role: str
) -> DialogWithMessages | NotHere | None:
    """The dialog and its messages: None when it does not exist or ``operator_id`` (of
    ``role``) may not see it; ``NOT_HERE`` when it cannot be read here."""

    async def reads(read: Read) -> DialogWithMessages | None:
        found = await read(one_dialog(role), {"dialog_id": dialog_id, "operator_id": operator_id})
        if not found:
            return None
        ids = {"ids": [dialog_id]}
        offers = _by_dialog(await read(OFFERS, ids))
        people = _by_dialog(await read(PARTICIPANTS, ids))
        newest = {"dialog_id": dialog_id, "limit": NEWEST_READ}
        messages, earlier = newest_page(await read(NEWEST_MESSAGES, newest))
        # The preview as LAST_MESSAGES picks it: from the messages in hand, unless none of them
        # is the conversation's (a page of the line's notices) and there are earlier ones.
        spoken = [m for m in messages if m.author != "system"]
        if spoken or not earlier:
            last = {dialog_id: spoken[-1]} if spoken else {}
        else:
            last = {m.dialog_id: m for m in await read(LAST_MESSAGES, ids)}
        views = _views_of(found, last, offers, people)
        return DialogWithMessages(views[0], [message_view(m) for m in messages], earlier)

    return await reader.snapshot(reads)


async def read_list(
    reader: DialogStatusReader, status: str, operator_id: int, role: str
) -> list[DialogView] | NotHere:
    """The dialogs of ``status`` (``dialog_list``) that ``operator_id`` (of ``role``) may see;
    ``NOT_HERE`` when they cannot be read here."""

    async def reads(read: Read) -> list[DialogView]:
        found = await read(dialog_list(role, status), {"operator_id": operator_id})
        if not found:
            return []
        ids = {"ids": [row.id for row in found]}
        last = {m.dialog_id: m for m in await read(LAST_MESSAGES, ids)}
        offers = _by_dialog(await read(OFFERS, ids))
        people = _by_dialog(await read(PARTICIPANTS, ids))
        return _views_of(found, last, offers, people)

    return await reader.snapshot(reads)

"""How stored dialogs and messages look to the console: one mapping, used by the router's events
and by the console's REST answers, so the two can never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, cast

from core.db.schema import Dialog
from core.envelope import Attachment, DialogView, MessageView, TextEdit

Author = Literal["client", "operator", "system"]
Status = Literal["waiting", "open", "closed"]


class NamedLine(Protocol):
    """A line as its dialogs show it: a stored row, or the router's kept copy of one."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


class ChannelOfKind(Protocol):
    """A channel as its dialogs show it: a stored row, or the router's kept copy of one."""

    @property
    def kind(self) -> str: ...


class NamedClient(Protocol):
    """A client as their dialogs show them: a stored row, or the columns of one."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str | None: ...


class ShownMessage(Protocol):
    """A message as the console sees it: a stored entity, or a row the router changes without
    one (``router.delivery``)."""

    @property
    def id(self) -> int: ...

    @property
    def dialog_id(self) -> int: ...

    @property
    def author(self) -> str: ...

    @property
    def author_name(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def client_msg_id(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def attachments(self) -> list[dict[str, Any]]: ...

    @property
    def hidden(self) -> bool: ...

    @property
    def delivery_status(self) -> str | None: ...

    @property
    def delivery_error(self) -> str | None: ...

    @property
    def edits(self) -> list[dict[str, Any]] | None: ...


def message_view(message: ShownMessage) -> MessageView:
    """The console's view of a stored message."""
    return MessageView(
        id=message.id,
        dialog_id=message.dialog_id,
        author=cast(Author, message.author),
        author_name=message.author_name,
        text=message.text,
        client_msg_id=message.client_msg_id,
        at=message.created_at,
        attachments=tuple(Attachment.model_validate(a) for a in message.attachments or ()),
        hidden=message.hidden,
        delivery_status=message.delivery_status,
        delivery_error=message.delivery_error,
        edits=tuple(TextEdit.model_validate(e) for e in message.edits or ()),
    )


def dialog_view(
    dialog: Dialog,
    line: NamedLine,
    channel: ChannelOfKind,
    client: NamedClient,
    last: ShownMessage | None,
    offered_to: tuple[int, ...] = (),
    participants: tuple[int, ...] = (),
) -> DialogView:
    """The console's view of a dialog with its last message, pending offers and colleagues."""
    return DialogView(
        id=dialog.id,
        line_id=line.id,
        line_name=line.name,
        channel_kind=channel.kind,
        client_name=client.name or f"Client #{client.id}",
        operator_id=dialog.operator_id,
        status=cast(Status, dialog.status),
        opened_at=dialog.opened_at,
        closed_at=dialog.closed_at,
        last_message=message_view(last) if last is not None else None,
        offered_to=offered_to,
        participants=participants,
        began_in_hours=dialog.began_in_hours,
        outcome=dialog.outcome,
        rating=dialog.rating,
        rating_comment=dialog.rating_comment,
        answered=dialog.first_response_at is not None,
    )

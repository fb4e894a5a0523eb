"""Every payload that travels on the bus, in one module.

Each model has a literal ``type``, a version ``v`` and forbids unknown fields, so a producer and a
consumer that disagree fail loudly at the edge instead of silently dropping data. Streams carry one
JSON document per entry under the field ``data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from core import published

MAX_TEXT = 4000
"""Longest message text the hub accepts from any channel, in characters."""

MAX_REPLY_TEXT = 20_000
"""Longest reply an operator may send, in characters; each connector splits it at its
platform's own limit."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Attachment(_Model):
    """A file that came with a message; ``url`` is where an operator can fetch it."""

    kind: Literal["image", "file", "voice", "sticker", "video"]
    url: str
    name: str = ""
    mime: str = ""
    size: int = 0


class ClientHints(_Model):
    """What a channel tells us about who the client is, for the CRM sink to match on.

    ``phone_verified`` is true only when the platform vouches that the phone is the sender's own
    (Telegram's contact button with the sender's user id). ``email`` is the sender address of
    an email dialog, or what a client gave. ``email_verified`` is true when someone we trust
    vouches for the address: the website signed it into the widget's identity (an email
    dialog's sender is verified by its channel kind). ``site_identity`` is an id the website
    signed for the widget.
    """

    name: str = Field(default="", max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    phone_verified: bool = False
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool = False
    site_identity: str | None = Field(default=None, max_length=255)

    def is_empty(self) -> bool:
        """True when the hints carry nothing beyond a display name."""
        return not (self.phone or self.email or self.site_identity)


class InboundMessage(_Model):
    """A client's message, normalised by a connector."""

    type: Literal["inbound.message"] = "inbound.message"
    v: Literal[1] = 1
    channel_id: int
    external_user_id: str = Field(min_length=1, max_length=255)
    external_message_id: str = Field(min_length=1, max_length=255)
    """The platform's own id of the message; (channel_id, external_message_id) is unique."""
    client_msg_id: str | None = Field(default=None, max_length=64)
    """The sender's own id for a message it may resend (the web chat); echoed back."""
    text: str = Field(default="", max_length=MAX_TEXT)
    attachments: tuple[Attachment, ...] = ()
    client_name: str = Field(default="", max_length=255)
    hints: ClientHints = ClientHints()
    sent_at: datetime = Field(default_factory=utcnow)
    thread_dialog_id: int | None = None
    """The dialog this message answers, when the channel can tell (email In-Reply-To/References
    or a ``[#D123]`` subject tag); used if that dialog is open and belongs to the same client."""
    line_id: int | None = None
    """The line a new dialog should open on, when the channel's routing rules chose one."""
    echo: bool = False
    """The channel shows the client's own messages back to the client (a web chat's other
    tabs), so the router delivers this message to the client too."""


class ClientEdit(_Model):
    """A client changed the text of a message they sent (a platform that allows it reports
    the new text). It goes on the client's inbound shard, after the message it changes."""

    type: Literal["inbound.edit"] = "inbound.edit"
    v: Literal[1] = 1
    channel_id: int
    external_user_id: str = Field(min_length=1, max_length=255)
    external_message_id: str = Field(min_length=1, max_length=255)
    """The platform's id of the message changed, as its ``InboundMessage`` carried it."""
    text: str = Field(default="", max_length=MAX_TEXT)
    edited_at: datetime = Field(default_factory=utcnow)


class OperatorReply(_Model):
    """An operator's answer in a dialog, sent from the console."""

    type: Literal["cmd.reply"] = "cmd.reply"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int
    client_msg_id: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=MAX_REPLY_TEXT)
    attachments: tuple[Attachment, ...] = ()
    """Files the operator uploaded for this reply (``/api/attachments/…`` urls)."""

    @model_validator(mode="after")
    def _says_something(self) -> OperatorReply:
        # A reply may be files alone, but never nothing at all.
        if not self.text and not self.attachments:
            raise ValueError("a reply needs text or attachments")
        return self


class CloseDialog(_Model):
    """Close a dialog; ``operator_id`` is None when the client or a timer closes it."""

    type: Literal["cmd.close"] = "cmd.close"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int | None = None


class PresenceChange(_Model):
    """An operator went online, away or offline."""

    type: Literal["cmd.presence"] = "cmd.presence"
    v: Literal[1] = 1
    operator_id: int
    status: Literal["online", "away", "offline"]


class TakeOffer(_Model):
    """An operator takes a dialog offered to them (or waiting on their line)."""

    type: Literal["cmd.take"] = "cmd.take"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int


class SkipOffer(_Model):
    """An operator passes on a dialog offered or assigned to them and not yet answered."""

    type: Literal["cmd.skip"] = "cmd.skip"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int


class TransferDialog(_Model):
    """Hand a dialog to another operator or to another line's queue, with an optional comment.

    Exactly one of ``to_operator_id`` and ``to_line_id`` is set; a supervisor transferring to
    themselves takes the dialog over.
    """

    type: Literal["cmd.transfer"] = "cmd.transfer"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int
    to_operator_id: int | None = None
    to_line_id: int | None = None
    comment: str = Field(default="", max_length=1000)


class InviteColleague(_Model):
    """Bring a colleague into a dialog; a supervisor naming themselves joins it."""

    type: Literal["cmd.invite"] = "cmd.invite"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int
    colleague_id: int


class LeaveDialog(_Model):
    """An invited colleague or a joined supervisor leaves a dialog."""

    type: Literal["cmd.leave"] = "cmd.leave"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int


class HiddenNote(_Model):
    """A message between colleagues in a dialog: stored and shown to operators, never sent to
    the client."""

    type: Literal["cmd.note"] = "cmd.note"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int
    client_msg_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_TEXT)


MAX_RATING_COMMENT = 1000
"""Longest comment a client may leave with a rating."""

RATING_CONTROL_KINDS = frozenset({"webchat"})
"""Channel kinds that ask for a rating with their own controls (``DialogClosedNotice.rating``)
instead of the "reply with a number" text."""


class RateDialog(_Model):
    """The client rated a closed dialog (a channel with a native rating control sends this)."""

    type: Literal["cmd.rate"] = "cmd.rate"
    v: Literal[1] = 1
    dialog_id: int
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_RATING_COMMENT)
    """What the client wrote beside the stars, if anything."""


class ReopenDialog(_Model):
    """A supervisor reopens a closed dialog: back to its operator while they are still on the
    line, else to the line's queue."""

    type: Literal["cmd.reopen"] = "cmd.reopen"
    v: Literal[1] = 1
    dialog_id: int
    operator_id: int


RoutingCommand = (
    TakeOffer
    | SkipOffer
    | TransferDialog
    | InviteColleague
    | LeaveDialog
    | HiddenNote
    | RateDialog
    | ReopenDialog
)
"""Operator commands of open-line routing (offers, transfers, colleagues, notes, ratings,
reopening)."""

Command = Annotated[
    OperatorReply | CloseDialog | PresenceChange | RoutingCommand, Field(discriminator="type")
]
"""What the console asks the router to do (stream ``cmd``)."""


class OutboundMessage(_Model):
    """A message the router stored, for a connector to deliver to the client's platform."""

    type: Literal["outbound.message"] = "outbound.message"
    v: Literal[1] = 1
    message_id: int
    """Our id of the message: the connector's idempotency key for the send."""
    dialog_id: int
    channel_id: int
    external_user_id: str
    author: Literal["operator", "system", "client"]
    author_name: str = ""
    text: str
    client_msg_id: str | None = None
    at: datetime
    attachments: tuple[Attachment, ...] = ()
    """Images and files to send with (or instead of) the text; urls are /api/attachments/…."""


class DialogClosedNotice(_Model):
    """Tells the client's channel that the dialog was closed."""

    type: Literal["outbound.closed"] = "outbound.closed"
    v: Literal[1] = 1
    dialog_id: int
    channel_id: int
    external_user_id: str
    rating: Literal["none", "stars", "like"] = "none"
    """The rating the line asks for: a channel with its own controls (the web chat) shows
    them and answers with the router's ``cmd.rate``."""


Outbound = Annotated[OutboundMessage | DialogClosedNotice, Field(discriminator="type")]
"""What a channel's outbound stream (``out.<kind>``) carries."""


DeliveryStatus = Literal["sent", "delivered", "seen", "failed"]
"""How far a message of ours got; it only moves forward: sent, delivered, seen (or failed)."""


class DeliveryOutcome(_Model):
    """What became of a connector's send of one of our messages (stream ``cmd``): the router
    records it on the message and tells the operators who see the dialog."""

    type: Literal["delivery.outcome"] = "delivery.outcome"
    v: Literal[1] = 1
    message_id: int
    status: DeliveryStatus
    external_id: str | None = Field(default=None, max_length=255)
    """The platform's id of the message, when the platform took it."""
    error: str | None = None
    """Why it failed, in words shown to the operator."""


OUTCOMES_MOST = 500
"""Most outcomes one ``DeliveryOutcomes`` entry carries."""


class DeliveryOutcomes(_Model):
    """Outcomes a connector learned of together, in one entry of ``cmd``: the router records
    them in order, as it would the same ``DeliveryOutcome``s one entry each. The web chat
    reports every operator's message one read of its outbound stream showed in open widgets
    this way: a third of the router's inputs were those reports, each an entry of its own to
    append, read, check and acknowledge."""

    type: Literal["delivery.outcomes"] = "delivery.outcomes"
    v: Literal[1] = 1
    outcomes: tuple[DeliveryOutcome, ...] = Field(min_length=1, max_length=OUTCOMES_MOST)


class DeliveryReceipt(_Model):
    """A platform's report about one of our messages, named by its id on the platform
    (stream ``cmd``); the router applies it like an outcome."""

    type: Literal["delivery.receipt"] = "delivery.receipt"
    v: Literal[1] = 1
    channel_id: int
    external_id: str = Field(min_length=1, max_length=255)
    status: DeliveryStatus
    error: str | None = None


class TextEdit(_Model):
    """An earlier text of a message its client changed, and when it was replaced."""

    text: str
    replaced_at: datetime


class MessageView(_Model):
    """A stored message as the console shows it."""

    id: int
    dialog_id: int
    author: Literal["client", "operator", "system"]
    author_name: str
    text: str
    client_msg_id: str | None
    at: datetime
    attachments: tuple[Attachment, ...] = ()
    hidden: bool = False
    delivery_status: str | None = None
    delivery_error: str | None = None
    edits: tuple[TextEdit, ...] = ()
    """The earlier texts of a message its client changed, oldest first."""


class DialogView(_Model):
    """A dialog as the console lists it."""

    id: int
    line_id: int
    line_name: str
    channel_kind: str
    client_name: str
    operator_id: int | None
    status: Literal["waiting", "open", "closed"]
    opened_at: datetime
    closed_at: datetime | None
    last_message: MessageView | None
    offered_to: tuple[int, ...] = ()
    """Operators with a pending offer of this waiting dialog."""
    participants: tuple[int, ...] = ()
    """Colleagues invited into the dialog and supervisors who joined it."""
    began_in_hours: bool | None = None
    outcome: str | None = None
    rating: int | None = None
    rating_comment: str | None = None
    answered: bool = False
    """An operator has replied: an assigned dialog can no longer be skipped back to the queue."""


HookEventName = Literal[
    "message.created",
    "message.updated",
    "dialog.opened",
    "dialog.assigned",
    "dialog.transferred",
    "dialog.closed",
    "client.created",
    "client.merged",
    "client.unmerged",
    "rating.received",
]
"""The events an integration may subscribe to (webhooks and the realtime API)."""


class IntegrationEvent(_Model):
    """Something an integration may want to hear about (stream ``events``).

    ``id`` is stable for one happening, so a receiver drops an id it has already seen;
    ``data`` is the event's public body, documented per ``event`` in docs/INTEGRATIONS.md.
    """

    type: Literal["event.integration"] = "event.integration"
    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64)
    event: HookEventName
    at: datetime
    data: dict[str, Any]


class DialogEvent(_Model):
    """A dialog appeared or changed; ``recipients`` are the operators who may see it."""

    type: Literal["event.dialog"] = "event.dialog"
    v: Literal[1] = 1
    key: str
    """Stable id of the event: consumers drop a key they have already delivered."""
    recipients: tuple[int, ...]
    dialog: DialogView
    leaving: tuple[int, ...] = ()
    """Recipients who no longer see the dialog after this change (taken, transferred away):
    their consoles drop it from the list."""
    hook: IntegrationEvent | None = None
    """An integration event that rides on this entry (a ``dialog.*`` event of the same change,
    as a rule): one entry of ``events`` serves the console and the integrations."""


class MessageOrigin(_Model):
    """What ``message.created`` tells integrations beyond the message's view: the client and
    the channel of its dialog (a message may have come in on another channel of the client)."""

    client_id: int
    channel_id: int


class MessageEvent(_Model):
    """A message was stored in a dialog (its delivery status moving is a ``DeliveryEvent``)."""

    type: Literal["event.message"] = "event.message"
    v: Literal[1] = 1
    key: str
    recipients: tuple[int, ...]
    message: MessageView
    created: MessageOrigin | None = None
    """Set when the event announces a stored message integrations hear of: the integrations
    read their ``message.created`` from this entry (``core.integration_events.carried``).
    None on a hidden note."""
    updated: MessageOrigin | None = None
    """Set when the event announces a client's edit of a stored message: the integrations read
    their ``message.updated`` from this entry."""


class DeliveryChange(_Model):
    """One message's delivery status as it moved, and who sees its dialog."""

    id: int
    """The message's id."""
    dialog_id: int
    delivery_status: DeliveryStatus
    delivery_error: str | None = None
    recipients: tuple[int, ...]


class DeliveryEvent(_Model):
    """The delivery statuses that moved in one batch of the router, in order.

    One event for the batch rather than one per message, and no more of each message than its
    status: delivery reports come about one per message sent, and as whole messages they were a
    third of this stream and a frame of the operator's for every reply. Each operator's socket
    gets one ``delivery`` frame with the changes of the dialogs it sees."""

    type: Literal["event.delivery"] = "event.delivery"
    v: Literal[1] = 1
    key: str
    changes: tuple[DeliveryChange, ...]

    @property
    def recipients(self) -> tuple[int, ...]:
        """Everyone told of at least one of the changes."""
        return tuple(sorted({r for change in self.changes for r in change.recipients}))

    def seen_by(self, operator_id: int) -> tuple[DeliveryChange, ...]:
        """The changes of the dialogs ``operator_id`` sees."""
        return tuple(c for c in self.changes if operator_id in c.recipients)


class ReminderEvent(_Model):
    """A client has waited ``waited_minutes`` without an answer: a reminder to the operator
    of the dialog (``stage`` operator) or to the managers of its line (``stage`` manager)."""

    type: Literal["event.reminder"] = "event.reminder"
    v: Literal[1] = 1
    key: str
    recipients: tuple[int, ...]
    dialog_id: int
    stage: Literal["operator", "manager"]
    waited_minutes: int
    client_name: str = ""


class PresenceEvent(_Model):
    """The router changed an operator's presence; their consoles show it at once."""

    type: Literal["event.presence"] = "event.presence"
    v: Literal[1] = 1
    key: str
    recipients: tuple[int, ...]
    operator_id: int
    status: Literal["online", "away", "offline"]


class WebhookDeliveryEvent(_Model):
    """A webhook delivery was logged or tried: an admin's open delivery log shows it at once."""

    type: Literal["event.webhook_delivery"] = "event.webhook_delivery"
    v: Literal[1] = 1
    key: str
    recipients: tuple[int, ...]
    webhook_id: int
    delivery: dict[str, Any]
    """The log's line as ``GET /api/admin/webhooks/{id}/deliveries`` gives it."""


ConsoleEvent = Annotated[
    DialogEvent
    | MessageEvent
    | DeliveryEvent
    | ReminderEvent
    | PresenceEvent
    | WebhookDeliveryEvent,
    Field(discriminator="type"),
]
"""What the console fans out to operator sockets (stream ``events``)."""


class WebhookDelivery(_Model):
    """One event to send to one webhook (stream ``webhooks.out``); retried through the bus."""

    type: Literal["webhook.delivery"] = "webhook.delivery"
    v: Literal[1] = 1
    webhook_id: int
    event: IntegrationEvent


class DialogClosedForCrm(_Model):
    """A dialog closed: the CRM sink attaches its transcript."""

    type: Literal["crm.dialog_closed"] = "crm.dialog_closed"
    v: Literal[1] = 1
    dialog_id: int
    client_id: int


class DialogOpenedForCrm(_Model):
    """A dialog opened: the CRM sink finds or creates the client's record."""

    type: Literal["crm.dialog_opened"] = "crm.dialog_opened"
    v: Literal[1] = 1
    dialog_id: int
    client_id: int
    line_id: int


class ClientHintsForCrm(_Model):
    """A channel said something about who a client is (a shared phone, an email address)."""

    type: Literal["crm.client_hints"] = "crm.client_hints"
    v: Literal[1] = 1
    client_id: int
    identity_id: int
    channel_id: int
    dialog_id: int
    hints: ClientHints


class DialogTransferredForCrm(_Model):
    """A transfer gave a dialog to another operator: the CRM sink may move the client's
    responsible to them (the line's ``crm.change_responsible_on_transfer``)."""

    type: Literal["crm.dialog_transferred"] = "crm.dialog_transferred"
    v: Literal[1] = 1
    dialog_id: int
    client_id: int
    line_id: int
    from_operator_id: int | None
    to_operator_id: int


CrmEvent = Annotated[
    DialogOpenedForCrm | DialogClosedForCrm | ClientHintsForCrm | DialogTransferredForCrm,
    Field(discriminator="type"),
]
"""What the CRM sink consumes (stream ``crm``)."""


class TimerFired(_Model):
    """A timer came due; ``key`` names it, ``payload`` is what was scheduled."""

    type: Literal["timer.fired"] = "timer.fired"
    v: Literal[1] = 1
    key: str
    due_at: datetime
    payload: dict[str, str | int | None]


class PlatformUpdate(_Model):
    """One raw update of a messaging platform, accepted at the edge and queued for its connector.

    Webhooks and pollers only check and queue (stream ``raw.<kind>``); parsing, file downloads and
    delivery receipts happen in the connector's consumer, off the request path.
    """

    type: Literal["connector.update"] = "connector.update"
    v: Literal[1] = 1
    channel_id: int
    update_id: str = Field(min_length=1, max_length=255)
    """The platform's own id of the update (update_id, event_id, message token): the dedupe key."""
    body: dict[str, Any]
    received_at: datetime = Field(default_factory=utcnow)


class ChannelsChanged(_Model):
    """An admin added, changed or disabled a channel account (stream ``channels``)."""

    type: Literal["channels.changed"] = "channels.changed"
    v: Literal[1] = 1
    channel_id: int
    kind: str


RouterInput = Annotated[
    InboundMessage
    | ClientEdit
    | OperatorReply
    | CloseDialog
    | PresenceChange
    | RoutingCommand
    | TimerFired
    | DeliveryOutcome
    | DeliveryOutcomes
    | DeliveryReceipt,
    Field(discriminator="type"),
]
"""Everything the router consumes: inbound shards, commands, delivery reports and fired
timers."""

Envelope = Annotated[
    InboundMessage
    | ClientEdit
    | OperatorReply
    | CloseDialog
    | PresenceChange
    | OutboundMessage
    | DialogClosedNotice
    | DialogEvent
    | MessageEvent
    | DeliveryEvent
    | ReminderEvent
    | PresenceEvent
    | WebhookDeliveryEvent
    | DialogOpenedForCrm
    | DialogClosedForCrm
    | ClientHintsForCrm
    | TimerFired
    | RoutingCommand
    | PlatformUpdate
    | ChannelsChanged
    | DialogTransferredForCrm
    | DeliveryOutcome
    | DeliveryOutcomes
    | DeliveryReceipt
    | IntegrationEvent
    | WebhookDelivery,
    Field(discriminator="type"),
]
"""Any payload on any stream."""

ENVELOPE: TypeAdapter[Envelope] = TypeAdapter(Envelope)


def encode(payload: BaseModel) -> str:
    """Serialise a payload for a stream entry."""
    return payload.model_dump_json()


def decode(raw: str | bytes) -> Envelope:
    """Parse a stream entry; raises pydantic.ValidationError on anything malformed. A payload
    this process published lately is taken as it is (``core.published``)."""
    if isinstance(raw, bytes):
        return ENVELOPE.validate_json(raw)
    return published.decoded(ENVELOPE, raw)

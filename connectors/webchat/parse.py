"""Pure parsing of the visitor socket's frames (see docs/PROTOCOL.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from connectors.webchat.uploads import MAX_FILES
from core.envelope import MAX_RATING_COMMENT, MAX_TEXT
from core.limits import MAX_ID, InputError, loads_limited
from core.uploads import UploadedFile

CLIENT_MSG_ID = r"^[A-Za-z0-9_-]{1,64}$"
NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
"""Identity fields are joined with newlines before signing: no control characters in them."""


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteIdentity(_Frame):
    """The website's logged-in user, signed with the chat's site secret (see identity.py)."""

    id: str = Field(min_length=1, max_length=255, pattern=NO_CONTROLS)
    ts: int = Field(ge=0, le=MAX_ID)
    """Unix seconds when the site signed; old signatures expire."""
    name: str = Field(default="", max_length=255, pattern=NO_CONTROLS)
    email: str = Field(default="", max_length=320, pattern=NO_CONTROLS)
    signature: str = Field(pattern=r"^[0-9A-Fa-f]{64}$")
    """Hex HMAC-SHA256."""


class Hello(_Frame):
    """The first frame: resume with a token, or ask for one; optionally say who the site
    says the visitor is."""

    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=512)
    after: int | None = Field(default=None, ge=0, le=MAX_ID)
    identity: Any = None
    """Checked on its own by ``parse_identity``: a bad identity must not cost the visitor
    the chat, only the identification."""


class Identify(_Frame):
    """The site identified the visitor after the socket opened (``Openlines.identify``)."""

    type: Literal["identify"]
    identity: Any


class ContactDetails(_Frame):
    """What a visitor typed into one of the widget's forms (call me back, leave a message):
    their own word, never verified; checked further by ``check_contact``."""

    name: str = Field(default="", max_length=255, pattern=NO_CONTROLS)
    email: str = Field(default="", max_length=320, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str = Field(default="", max_length=64, pattern=NO_CONTROLS)


class VisitorText(_Frame):
    """A message the visitor wrote, or files they sent (``text`` may then be empty)."""

    type: Literal["message"]
    client_msg_id: str = Field(pattern=CLIENT_MSG_ID)
    text: str = ""
    attachments: tuple[UploadedFile, ...] = Field(default=(), max_length=MAX_FILES)
    """Files from ``POST /widget/upload``, each with the token it answered."""
    contact: ContactDetails | None = None
    """Sent by the widget's forms with the message they compose."""


class Typing(_Frame):
    """The visitor is typing."""

    type: Literal["typing"]


class Read(_Frame):
    """The visitor's widget shows the operator messages up to ``up_to`` (a message id)."""

    type: Literal["read"]
    up_to: int = Field(ge=1, le=MAX_ID)


class Ping(_Frame):
    """Keep-alive."""

    type: Literal["ping"]


class Rate(_Frame):
    """The visitor rated a closed dialog of theirs: 1–5 stars, or 👍/👎 sent as 5/1, with an
    optional comment."""

    type: Literal["rate"]
    dialog_id: int = Field(ge=1, le=MAX_ID)
    value: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_RATING_COMMENT)


class Transcript(_Frame):
    """The visitor asks for a closed dialog of theirs to be mailed to ``email``."""

    type: Literal["transcript"]
    dialog_id: int = Field(ge=1, le=MAX_ID)
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


VisitorFrame = Annotated[
    Hello | VisitorText | Typing | Read | Ping | Rate | Identify | Transcript,
    Field(discriminator="type"),
]
_FRAME: TypeAdapter[VisitorFrame] = TypeAdapter(VisitorFrame)
IDENTITY_ERROR = "bad_identity"


@dataclass(frozen=True)
class FrameError:
    """Why a frame was refused: an error code from PROTOCOL.md and a reason for people.

    ``client_msg_id`` names the refused message when the frame carried a usable one, so the
    widget knows which of its pending messages failed.
    """

    code: str
    reason: str
    client_msg_id: str | None = None


def parse_frame(raw: str) -> VisitorFrame | FrameError:
    """Parse one text frame from a visitor."""
    try:
        data = loads_limited(raw)
    except InputError as exc:
        return FrameError("bad_json", str(exc))
    if not isinstance(data, dict):
        return FrameError("bad_frame", "a frame is a JSON object")
    cid = data.get("client_msg_id")
    cid = cid if isinstance(cid, str) and re.fullmatch(CLIENT_MSG_ID, cid) else None
    try:
        frame = _FRAME.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        if first["type"] == "union_tag_invalid":
            return FrameError("bad_frame", f"unknown frame type {data.get('type')!r}")
        return FrameError("bad_frame", f"{where}: {first['msg']}", cid)
    if isinstance(frame, VisitorText):
        if len(frame.text) > MAX_TEXT:
            return FrameError(
                "too_long", f"text is {len(frame.text)} characters; the limit is {MAX_TEXT}", cid
            )
        if not frame.text.strip() and not frame.attachments:
            return FrameError("bad_frame", "text: empty message", cid)
    return frame


def parse_identity(data: Any) -> SiteIdentity | FrameError:
    """The shape of an identity from ``hello`` or ``identify``; the signature is checked later."""
    try:
        return SiteIdentity.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("identity", *first["loc"]))
        return FrameError(IDENTITY_ERROR, f"{where}: {first['msg']}")


def check_contact(contact: ContactDetails) -> str | None:
    """Why a form's phone is refused (libphonenumber: it must exist in its country's plan,
    written with ``+`` and the country code), or None."""
    if not contact.phone:
        return None
    # libphonenumber's tables are imported at the first form with a phone, not at the start.
    import phonenumbers

    try:
        number = phonenumbers.parse(contact.phone, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return "contact.phone: not a phone number; write it with + and the country code"
    return None

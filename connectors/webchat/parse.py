"""Pure parsing of the visitor socket's frames (see docs/PROTOCOL.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.envelope import MAX_TEXT

CLIENT_MSG_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Frame):
    """The first frame: resume with a token, or ask for one."""

    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=512)
    after: int | None = Field(default=None, ge=0)


class VisitorText(_Frame):
    """A message the visitor wrote."""

    type: Literal["message"]
    client_msg_id: str = Field(pattern=CLIENT_MSG_ID)
    text: str = Field(min_length=1)


class Typing(_Frame):
    """The visitor is typing."""

    type: Literal["typing"]


class Ping(_Frame):
    """Keep-alive."""

    type: Literal["ping"]


VisitorFrame = Annotated[Hello | VisitorText | Typing | Ping, Field(discriminator="type")]
_FRAME: TypeAdapter[VisitorFrame] = TypeAdapter(VisitorFrame)


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
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return FrameError("bad_json", f"not JSON: {exc.msg}")
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
        if not frame.text.strip():
            return FrameError("bad_frame", "text: empty message", cid)
    return frame

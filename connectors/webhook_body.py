"""The one way a webhook turns a platform's raw body into JSON: read whole and bounded
(``read_body``, which the widget's uploads use too), then checked by a model.

The model names only the fields the webhook itself reads (the rest is parsed later, by the
channel's ``parse``); a body that does not fit is a 400 naming the field, never a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from core.limits import InputError, loads_limited


class WebhookHead(BaseModel):
    """The fields of a platform's callback that the webhook reads before queueing it."""

    model_config = ConfigDict(extra="ignore", frozen=True)


H = TypeVar("H", bound=WebhookHead)

CHUNK = 64 * 1024


async def read_body(request: web.Request, limit: int, reason: str | None = None) -> bytes:
    """The whole body, however many reads of the socket it arrives in; a 413 past ``limit``
    (with ``reason`` as its text, if given).

    ``request.content.read(n)`` is not that: it returns what has arrived so far, which over a
    real network is the first segments of any update longer than one."""
    said = {"text": reason} if reason else {}  # else aiohttp's own, with both sizes
    stated = request.content_length or 0
    if stated > limit:
        raise web.HTTPRequestEntityTooLarge(limit, stated, **said)
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(limit, len(body), **said)
    return bytes(body)


def read_payload(raw: bytes, head: type[H]) -> tuple[dict[str, Any], H]:
    """The body as a JSON object and its checked head, or a 400 that says what is wrong."""
    try:
        body = loads_limited(raw)
    except InputError as exc:
        raise web.HTTPBadRequest(text=f"body: {exc}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body: a callback is a JSON object")
    try:
        return body, head.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise web.HTTPBadRequest(text=f"{where}: {first['msg']}") from None

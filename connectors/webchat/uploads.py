"""Files a visitor sends from the widget: stored like operators' files, then sent with a
``message`` frame that must carry the upload's token.

``POST /widget/upload?channel=<key>`` takes the file as the raw body (so the browser can show
the upload's progress), the visitor's token in ``X-Openlines-Token`` and the file's name,
percent-encoded, in ``X-File-Name``. It answers the attachment with a token, an HMAC over the
visitor and every field of it: a message may carry only files its own visitor uploaded,
unchanged (a file's url is predictable from its sha256).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web
from pydantic import ValidationError

from connectors.attachments import AttachmentStore
from connectors.filetypes import Refused, clean_name, sniff
from connectors.webchat.config import WebchatConfig, type_allowed
from connectors.webchat.token import Visitor, check_token
from connectors.webchat.upload_rate import UploadRate
from connectors.webhook_body import read_body
from core.db.schema import Channel
from core.envelope import Attachment
from core.limits import signature_matches
from core.uploads import UploadedFile

MAX_FILES = 10
"""Files one message may carry."""

ChannelByKey = Callable[[str], Awaitable[Channel | None]]


def upload_token(secret: bytes, visitor: Visitor, att: Attachment) -> str:
    """The token that lets ``visitor``'s messages carry ``att`` exactly as uploaded."""
    fields = (att.kind, att.url, att.name, att.mime, str(att.size))
    body = "\0".join(("webchat-upload", str(visitor.channel_id), visitor.visitor_id, *fields))
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def check_files(
    secret: bytes, visitor: Visitor, files: tuple[UploadedFile, ...]
) -> tuple[Attachment, ...] | None:
    """The attachments of a visitor's message; None when any was not their upload as is."""
    attachments = tuple(f.attachment() for f in files)
    for file, att in zip(files, attachments, strict=True):
        if not signature_matches(upload_token(secret, visitor, att), file.token):
            return None
    return attachments


def limits_of(channel: Channel) -> WebchatConfig:
    """The chat's upload limits; a config that does not validate allows no uploads."""
    try:
        return WebchatConfig.model_validate(channel.config or {})
    except ValidationError:
        return WebchatConfig(upload_max_mb=0)


def upload_route(
    secret: Callable[[], bytes],
    store: Callable[[], AttachmentStore],
    channel_by_key: ChannelByKey,
    rate: Callable[[], UploadRate],
) -> web.AbstractRouteDef:
    """The upload endpoint; ``secret``, ``store`` and ``rate`` are asked for at each request."""

    async def visitor_upload(request: web.Request) -> web.Response:
        """Store one file of a visitor: 201 with the attachment and its token, else 4xx."""
        channel = await channel_by_key(request.query.get("channel", ""))
        if channel is None:
            raise _refuse(web.HTTPNotFound, "channel: no enabled web chat with this key")
        visitor = check_token(secret(), request.headers.get("X-Openlines-Token", ""), channel.id)
        if visitor is None:
            raise _refuse(web.HTTPForbidden, "token: not a visitor of this chat")
        limits = limits_of(channel)
        name = clean_name(unquote(request.headers.get("X-File-Name", "file")))
        data = await _read_limited(request, limits.upload_max_mb, name)
        address = request.remote or "unknown"
        wait = await rate().wait_s(channel.id, visitor.visitor_id, address, len(data))
        if wait:
            raise web.HTTPTooManyRequests(
                text=f"{name}: too many files from here for now; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        try:
            found = sniff(name, data[:64])
        except Refused as exc:
            raise _refuse(web.HTTPUnsupportedMediaType, str(exc)) from None
        if not type_allowed(found.mime, limits.upload_types):
            raise _refuse(web.HTTPUnsupportedMediaType, f"{name}: this chat does not take "
                          f"{found.mime} files")  # fmt: skip
        att = await store().save(
            channel.id, data, kind=found.kind, name=name, mime=found.mime, pending=True
        )
        token = upload_token(secret(), visitor, att)
        return web.json_response(att.model_dump() | {"token": token}, status=201)

    return web.post("/widget/upload", visitor_upload)


async def _read_limited(request: web.Request, limit_mb: int, name: str) -> bytes:
    if limit_mb == 0:
        raise _refuse(web.HTTPForbidden, "this chat does not take files")
    limit = limit_mb * 1024 * 1024
    data = await read_body(request, limit, reason=f"{name}: larger than {limit_mb} MB")
    if not data:
        raise _refuse(web.HTTPBadRequest, f"{name}: the file is empty")
    return bytes(data)


def _refuse(kind: type[web.HTTPException], reason: str) -> web.HTTPException:
    return kind(text=reason)

"""GET /api/attachments/{channel_id}/{sha256}: a client's file, for operators who may see it.

The session middleware has already refused callers without a session (401). Admins may fetch
any stored file; everyone else only a file of a message in a dialog they may see (the console's
rule, ``core.audience.visible_dialogs`` via ``operator_console.api._visibility``). Anything
else is 404, so ids cannot be probed.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import String, cast, select, true

from connectors.attachments import AttachmentStore, attachment_url
from core.app_keys import SESSIONS
from core.db.schema import Dialog, Message
from core.limits import parse_row_id
from operator_console.api import _visibility
from operator_console.auth import http_error
from operator_console.keys import OPERATOR, SETTINGS


async def get_attachment(request: web.Request) -> web.StreamResponse:
    """Serve one stored file as a download (never rendered inline as HTML)."""
    channel_id = parse_row_id(request.match_info["channel_id"])
    if channel_id is None:
        raise http_error(web.HTTPNotFound, "no such attachment")
    sha = request.match_info["sha"]
    stored = AttachmentStore(request.app[SETTINGS].data_dir).find(channel_id, sha)
    if stored is None or not await _may_see(request, channel_id, sha):
        raise http_error(web.HTTPNotFound, "no such attachment")
    # Inline only for images and audio/video; everything else downloads, so a stored HTML or
    # SVG file can never run script on the console's origin.
    inline = stored.mime.split("/")[0] in ("image", "audio", "video") and "svg" not in stored.mime
    disposition = "inline" if inline else "attachment"
    return web.FileResponse(
        stored.path,
        headers={
            "Content-Type": stored.mime,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote(stored.name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


async def _may_see(request: web.Request, channel_id: int, sha: str) -> bool:
    # The dialogs' own visibility rule, so a manager sees files of their lines only.
    rule = _visibility(request[OPERATOR])
    query = (
        select(Message.id)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .where(
            Message.channel_id == channel_id,
            cast(Message.attachments, String).contains(attachment_url(channel_id, sha)),
            true() if rule is None else rule,
        )
        .limit(1)
    )
    async with request.app[SESSIONS]() as session:
        return await session.scalar(query) is not None


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name or "file", safe="")


def routes() -> list[web.AbstractRouteDef]:
    """The attachment route."""
    return [web.get("/api/attachments/{channel_id}/{sha}", get_attachment)]

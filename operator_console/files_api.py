"""Operators' files: upload for a reply, and the public signed links clients fetch them by.

``POST /api/dialogs/{id}/files`` takes one or more files (multipart), checks what they are
(``connectors.filetypes``), stores them in the dialog's channel folder
(``connectors.attachments``) and answers with one descriptor per file: the attachment plus an
upload token (``uploads``), which the reply (``POST /api/dialogs/{id}/messages``) sends back.

``GET /files/{token}`` serves a stored file to whoever holds a link signed by
``connectors.filelinks`` (the web-chat visitor, Viber's servers): 403 for a forged or expired one.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from connectors.attachments import AttachmentStore
from connectors.filelinks import PATH_PREFIX, check_token
from connectors.filetypes import Refused, clean_name, sniff
from core.app_keys import SECRET_KEY, SESSIONS
from core.db.schema import Dialog
from operator_console.api import _visible_dialog
from operator_console.auth import http_error
from operator_console.keys import SETTINGS
from operator_console.uploads import MAX_FILES, upload_token

CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024
"""Headers and boundaries a multipart body may add around its files."""


async def upload_files(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/files: store files for a reply; 400/413 with the reason."""
    settings = request.app[SETTINGS]
    limit = settings.max_upload_mb * 1024 * 1024
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
        channel_id = await session.scalar(select(Dialog.channel_id).where(Dialog.id == view.id))
    assert channel_id is not None  # the dialog was just read
    if view.status == "closed":
        raise http_error(web.HTTPConflict, "the dialog is closed")
    length = request.content_length
    if length is not None and length > limit * MAX_FILES + MULTIPART_OVERHEAD:
        raise _too_large(settings.max_upload_mb)
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise http_error(
            web.HTTPBadRequest, "body: send the files as multipart/form-data"
        ) from None
    store = AttachmentStore(settings.data_dir)
    secret = request.app[SECRET_KEY]
    answers: list[dict[str, object]] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.filename:
            continue  # other form fields carry nothing we need
        if len(answers) == MAX_FILES:
            raise http_error(web.HTTPBadRequest, f"files: at most {MAX_FILES} at a time")
        name = clean_name(part.filename)
        data = await _read_limited(part, limit, name, settings.max_upload_mb)
        if not data:
            raise http_error(web.HTTPBadRequest, f"{name}: the file is empty")
        try:
            found = sniff(name, data[:64])
        except Refused as exc:
            raise http_error(web.HTTPBadRequest, str(exc)) from None
        att = await store.save(channel_id, data, kind=found.kind, name=name, mime=found.mime)
        answers.append(att.model_dump() | {"token": upload_token(secret, view.id, att)})
    if not answers:
        raise http_error(web.HTTPBadRequest, "files: no file in the upload")
    return web.json_response({"files": answers}, status=201)


async def _read_limited(part: BodyPartReader, limit: int, name: str, limit_mb: int) -> bytes:
    # Read in chunks and stop one byte past the limit: an oversize file is refused without
    # ever being held whole in memory.
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit_mb, name)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit_mb: int, name: str = "") -> web.HTTPException:
    what = f"{name}: the file" if name else "upload: a file"
    limit = limit_mb * 1024 * 1024
    return web.HTTPRequestEntityTooLarge(
        limit,
        limit + 1,
        text=json.dumps({"error": f"{what} is over the {limit_mb} MB limit"}),
        content_type="application/json",
    )


async def public_file(request: web.Request) -> web.StreamResponse:
    """GET /files/{token}: a stored file for the holder of a signed, unexpired link."""
    found = check_token(request.app[SECRET_KEY], request.match_info["token"], time.time())
    if found is None:
        raise http_error(web.HTTPForbidden, "this link is not valid or has expired")
    stored = AttachmentStore(request.app[SETTINGS].data_dir).find(*found)
    if stored is None:
        raise http_error(web.HTTPNotFound, "the file is no longer stored")
    # Raster images may show inline (the widget's thumbnails); everything else downloads, and
    # the sandbox keeps any file from running script on the hub's origin.
    inline = stored.mime.startswith("image/") and "svg" not in stored.mime
    disposition = "inline" if inline else "attachment"
    return web.FileResponse(
        stored.path,
        headers={
            "Content-Type": stored.mime,
            "Content-Disposition": (
                f"{disposition}; filename*=UTF-8''{quote(stored.name or 'file', safe='')}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )


def routes() -> list[web.AbstractRouteDef]:
    """The upload route and the public file route."""
    return [
        web.post("/api/dialogs/{dialog_id}/files", upload_files),
        web.get(PATH_PREFIX + "{token}", public_file),
    ]

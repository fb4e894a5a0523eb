"""Upload tokens: a reply may carry only files uploaded to its own dialog, unchanged.

The upload answers each file with a token, an HMAC over the dialog id and every field of the
attachment. The reply sends the descriptors back; without a matching token an operator could
point a reply at another client's stored file (urls are predictable from a file's sha256) or
rename or re-type a file after it was checked.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from core.envelope import Attachment
from core.limits import signature_matches
from core.uploads import UploadedFile
from operator_console.auth import http_error

MAX_FILES = 10
"""Files in one upload and in one reply."""


def upload_token(secret: bytes, dialog_id: int, att: Attachment) -> str:
    """The token that lets a reply in ``dialog_id`` carry ``att`` exactly as uploaded."""
    body = "\0".join(
        ("upload", str(dialog_id), att.kind, att.url, att.name, att.mime, str(att.size))
    )
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def check_uploads(
    secret: bytes, dialog_id: int, files: list[UploadedFile]
) -> tuple[Attachment, ...]:
    """The attachments of a reply; 400 when any was not uploaded to this dialog as it is."""
    attachments = []
    for file in files:
        att = file.attachment()
        if not signature_matches(upload_token(secret, dialog_id, att), file.token):
            raise http_error(
                web.HTTPBadRequest,
                f"attachments: {file.name!r} was not uploaded to this dialog",
            )
        attachments.append(att)
    return tuple(attachments)

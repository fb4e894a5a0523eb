"""An operator attaching files to a reply through the console API, for the connector tests."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.hubclient import OperatorClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.4 price list"


async def reply_with_files(
    operator: OperatorClient, dialog_id: int, text: str, *files: tuple[str, bytes]
) -> list[dict[str, Any]]:
    """Upload ``files`` (name, bytes) to a dialog and reply with them; returns the descriptors."""
    form = aiohttp.FormData()
    for name, data in files:
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
    async with operator.http.post(
        f"{operator.base}/api/dialogs/{dialog_id}/files", data=form
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
    status, answer = await operator.call(
        "POST",
        f"/api/dialogs/{dialog_id}/messages",
        {"text": text, "client_msg_id": "with-files", "attachments": body["files"]},
    )
    assert status == 202, answer
    uploaded: list[dict[str, Any]] = body["files"]
    return uploaded

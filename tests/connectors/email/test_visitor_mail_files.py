"""Files reach a web chat visitor's real mailbox: an operator's answer mailed to a visitor who
left the page carries its files as MIME attachments, and so does the transcript the visitor
asks for; a file past ``mail_files_max_mb`` is named with a signed link that works."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.mailflow import wait_for_mail_with, write_leaving_email
from tests.support.mailpeers import CLIENT, MailPeers
from tests.support.operator_files import PDF, PNG, reply_with_files

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
]

RECEIPT = PNG + b"the visitor's receipt"
CATALOGUE = b"%PDF-1.4 catalogue " + b"0" * (3 * 1024 * 1024 // 2)
"""1.5 MiB: past the 1 MiB cap of these tests."""
_LINK = re.compile(r"\[file: catalogue\.pdf, 1\.5 MB, too large to attach: (\S+)\]")


@pytest.fixture
async def hub(start_hub: StartHub, redis_url: str, tmp_path: Path) -> Hub:
    """A whole hub whose mails to visitors attach at most 1 MiB of files."""
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, mail_files_max_mb=1))
    return hub


def files_of(mail: EmailMessage) -> dict[str | None, tuple[str, Any]]:
    return {p.get_filename(): (p.get_content_type(), p.get_content())
            for p in mail.iter_attachments()}  # fmt: skip


async def test_answer_and_transcript_mails_carry_the_files_and_link_the_large_one(
    hub: Hub,
    admin: OperatorClient,
    visitor: VisitorClient,
    mailboxes: MailPeers,
) -> None:
    receipt = await upload(visitor, RECEIPT, "receipt.png")
    dialog = await write_leaving_email(admin, visitor, "Is this one in stock?", [receipt])
    assert visitor.ws is not None
    await visitor.ws.close()  # the visitor leaves the page: the answer goes by mail

    await reply_with_files(admin, dialog["id"], "Here are the details.", ("lid.png", PNG),
                           ("prices.pdf", PDF), ("catalogue.pdf", CATALOGUE))  # fmt: skip
    answer = await wait_for_mail_with(mailboxes, "Here are the details.")
    assert files_of(answer) == {"lid.png": ("image/png", PNG),
                                "prices.pdf": ("application/pdf", PDF)}  # fmt: skip
    text = answer.get_body(("plain",)).get_content()
    link = _LINK.search(text)
    assert link is not None, text
    async with visitor.http.get(hub.base + link.group(1)[link.group(1).index("/files/") :]) as r:
        assert r.status == 200 and await r.read() == CATALOGUE
    await admin.receive_until("delivery", timeout=15, delivery_status="sent")

    await visitor.connect()
    status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/close")
    assert status == 202
    await visitor.receive_until("closed", dialog_id=dialog["id"])
    await visitor.send_raw(json.dumps({"type": "transcript", "dialog_id": dialog["id"],
                                       "email": CLIENT}))  # fmt: skip
    await visitor.receive_until("transcript_sent", dialog_id=dialog["id"])
    transcript = await wait_for_mail_with(mailboxes, "Is this one in stock?")
    assert files_of(transcript) == {"receipt.png": ("image/png", RECEIPT),
                                    "lid.png": ("image/png", PNG),
                                    "prices.pdf": ("application/pdf", PDF)}  # fmt: skip
    text = transcript.get_body(("plain",)).get_content()
    said = text.split("\n\n")
    assert "Is this one in stock?\n[file: receipt.png]" in said[0]
    assert "Here are the details.\n[file: lid.png]\n[file: prices.pdf]\n" in said[1] + "\n"
    assert _LINK.search(said[1]) is not None


async def upload(visitor: VisitorClient, data: bytes, name: str) -> dict[str, Any]:
    """The visitor's file as the upload answered it (token included)."""
    headers = {"X-Openlines-Token": visitor.token or "", "X-File-Name": name}
    async with visitor.http.post(
        f"{visitor.base}/widget/upload?channel=demo", data=data, headers=headers
    ) as resp:
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

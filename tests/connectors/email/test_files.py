"""An operator's files reach the client's real mailbox as MIME attachments of the reply."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.connector_hub import Hub
from tests.support.hubclient import OperatorClient
from tests.support.mailflow import add_mailbox, client_mail, wait_for_mail
from tests.support.mailpeers import CLIENT, MailPeers
from tests.support.operator_files import PDF, PNG, reply_with_files

pytestmark = pytest.mark.timeout(90)


async def test_reply_files_arrive_as_mime_attachments(
    hub: Hub, admin: OperatorClient, mailboxes: MailPeers, account_config: dict[str, Any]
) -> None:
    await add_mailbox(hub.server.app, account_config)
    mailboxes.deliver(client_mail("Price list", "Please send the price list.", "<p1@example.test>"))
    dialog = (await admin.receive_until("dialog", timeout=20))["dialog"]

    await reply_with_files(admin, dialog["id"], "Attached.", ("lid.png", PNG), ("prices.pdf", PDF))
    reply = await wait_for_mail(mailboxes, CLIENT)
    body = reply.get_body(("plain",))
    assert body is not None and "Attached." in body.get_content()
    files = {
        part.get_filename(): (part.get_content_type(), part.get_content())
        for part in reply.iter_attachments()
    }
    assert files == {"lid.png": ("image/png", PNG), "prices.pdf": ("application/pdf", PDF)}
    await admin.receive_until("delivery", timeout=15, delivery_status="sent")

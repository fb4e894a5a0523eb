"""An operator's files reach the client's real mailbox as MIME attachments of the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient
from tests.support.mailflow import add_mailbox, client_mail, wait_for_mail
from tests.support.mailpeers import CLIENT, MailPeers
from tests.support.operator_files import PDF, PNG, reply_with_files

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def hub(
    redis_url: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[tuple[str, web.Application]]:
    settings = Settings(
        redis_url=redis_url, database_url=sqlite_url, data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD, inbound_shards=2, claim_idle_ms=500,
    )  # fmt: skip
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), server.app
    finally:
        await server.close()


async def test_reply_files_arrive_as_mime_attachments(
    hub: tuple[str, web.Application], mailboxes: MailPeers, account_config: dict[str, Any]
) -> None:
    base, app = hub
    admin = OperatorClient(base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    await add_mailbox(app, account_config)
    mailboxes.deliver(client_mail("Price list", "Please send the price list.", "<p1@example.test>"))
    dialog = (await admin.receive_until("dialog", timeout=20))["dialog"]

    await reply_with_files(admin, dialog["id"], "Attached.", ("lid.png", PNG),
                           ("prices.pdf", PDF))
    reply = await wait_for_mail(mailboxes, CLIENT)
    body = reply.get_body(("plain",))
    assert body is not None and "Attached." in body.get_content()
    files = {part.get_filename(): (part.get_content_type(), part.get_content())
             for part in reply.iter_attachments()}
    assert files == {"lid.png": ("image/png", PNG), "prices.pdf": ("application/pdf", PDF)}
    await admin.receive_until("message", timeout=15, delivery_status="sent")
    await admin.close()

"""With two connectors processes, an operator's answer to a web chat visitor is delivered once:
on the widget while it is open on either process (never also by mail from the other one), and
by mail once the visitor has left the page.

Every role runs as an ``openlines run --role …`` child (tests/support/roles.py) on one Redis
and one PostgreSQL database; the hub's SMTP settings point at the local Postfix.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.mailflow import wait_for_mail_with
from tests.support.mailpeers import CLIENT, SUPPORT, MailPeers
from tests.support.roles import Deployment, RoleProcess

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
]

ANSWERS = 6


@pytest.fixture
async def deployment(
    tmp_path: Path, redis_url: str, postgres_url: str, mail_peers: MailPeers
) -> AsyncIterator[Deployment]:
    mail_peers.empty()
    smtp = {
        "digest_smtp_host": "127.0.0.1",
        "digest_smtp_port": str(mail_peers.smtp_port),
        "digest_smtp_tls": "none",
        "digest_from_address": SUPPORT,
        "bus_block_ms": "100",
    }
    hub = Deployment(tmp_path, redis_url, postgres_url, smtp)
    try:
        yield hub
    finally:
        hub.stop()


async def start_roles(hub: Deployment) -> list[RoleProcess]:
    """The console migrates and seeds the database alone; the others start together."""
    console = hub.start("console")
    await hub.ready(console)
    rest = [hub.start(role) for role in ("router", "connectors", "connectors")]
    await hub.ready(*rest)
    return [console, *rest]


async def claims(redis_url: str, message_ids: list[int]) -> list[str | None]:
    """How the hub decided each answer: shown on a widget, or mailed."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        values = await client.mget([f"webchat:answer:{m}" for m in message_ids])
        return [v if v is None else str(v) for v in values]
    finally:
        await client.aclose()


async def test_an_answer_goes_to_the_open_widget_or_by_mail_never_both(
    deployment: Deployment, redis_url: str, mail_peers: MailPeers
) -> None:
    console, _router, first, second = await start_roles(deployment)
    admin = OperatorClient(console.url)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    try:
        for holder in (first, second):  # the widget open on each process in turn
            await answers_while_on_the_page(admin, holder, redis_url, mail_peers)
    finally:
        await admin.close()


async def answers_while_on_the_page(
    admin: OperatorClient, holder: RoleProcess, redis_url: str, mail_peers: MailPeers
) -> None:
    visitor = VisitorClient(holder.url)
    try:
        await visitor.connect()
        form = {"type": "message", "client_msg_id": "f1", "text": f"Hello via {holder.port}",
                "contact": {"name": "Kari", "email": CLIENT}}  # fmt: skip
        await visitor.send_raw(json.dumps(form))
        await visitor.receive_until("accepted", client_msg_id="f1")
        said = await admin.receive_until("message", timeout=20, text=form["text"])
        dialog = {"id": said["message"]["dialog_id"]}
        shown: list[int] = []
        for n in range(ANSWERS):
            text = f"On the page {holder.port} #{n}"
            status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages",
                                         {"text": text, "client_msg_id": f"r{n}"})  # fmt: skip
            assert status == 202
            shown.append((await visitor.receive_until("message", text=text))["id"])
        assert visitor.ws is not None
        await visitor.ws.close()  # the visitor leaves the page
        gone = f"After leaving {holder.port}"
        status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages",
                                     {"text": gone, "client_msg_id": "gone"})  # fmt: skip
        assert status == 202
        mailed = await wait_for_mail_with(mail_peers, gone)
        assert f"[#D{dialog['id']}]" in mailed["Subject"]
        # Every answer shown on the widget was decided as shown, and none of them was mailed:
        # the other process, which saw no socket of the visitor, left them to this one.
        assert await claims(redis_url, shown) == ["shown"] * ANSWERS
        for n in range(ANSWERS):
            found = mail_peers.doveadm("search", "-u", CLIENT, "mailbox", "INBOX", "body",
                                       f"On the page {holder.port} #{n}")  # fmt: skip
            assert not found.strip(), f"answer #{n} was mailed while the widget was open"
        status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/close")
        assert status == 202
    finally:
        await visitor.close()

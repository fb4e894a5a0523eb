"""A hub's mail as a client sees it: add a mailbox to a running hub, write a client's mail,
have a web chat visitor leave their email, and wait for mail to arrive in a user's INBOX on the
local Dovecot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from sqlalchemy import select

from connectors.accounts import do_announce_change
from core.app_keys import BUS, SESSIONS
from core.db.schema import Channel, Line
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.mailpeers import CLIENT, SUPPORT, MailPeers


async def add_mailbox(app: web.Application, config: dict[str, Any]) -> int:
    """Add an email channel while the hub runs and tell the connectors."""
    async with app[SESSIONS]() as s, s.begin():
        line = await s.scalar(select(Line).order_by(Line.id).limit(1))
        assert line is not None
        channel = Channel(line_id=line.id, kind="email", key="support-mail", name="Support",
                          config=config)  # fmt: skip
        s.add(channel)
        await s.flush()
        channel_id = channel.id
    await do_announce_change(app[BUS], channel_id, "email")
    return channel_id


async def set_greeting(app: web.Application, greeting: str) -> None:
    """Give the line that mailboxes join (the first) a greeting auto-reply."""
    async with app[SESSIONS]() as s, s.begin():
        line = await s.scalar(select(Line).order_by(Line.id).limit(1))
        assert line is not None
        line.settings = {**line.settings, "auto_replies": {"greeting": greeting}}


async def write_leaving_email(
    admin: OperatorClient,
    visitor: VisitorClient,
    text: str,
    attachments: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The visitor's first message (``client_msg_id`` ``f1``), sent with the contact form filled
    in as Kari at ``CLIENT``; returns the dialog as the admin's socket announced it."""
    form: dict[str, Any] = {"type": "message", "client_msg_id": "f1", "text": text,
                            "contact": {"name": "Kari", "email": CLIENT}}  # fmt: skip
    if attachments:
        form["attachments"] = list(attachments)
    await visitor.send_raw(json.dumps(form))
    await visitor.receive_until("accepted", client_msg_id="f1")
    dialog: dict[str, Any] = (await admin.receive_until("dialog", timeout=20))["dialog"]
    return dialog


def client_mail(subject: str, body: str, mid: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Клиент <{CLIENT}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body, charset="koi8-r")
    msg.add_attachment(b"%PDF-1.4 test", maintype="application", subtype="pdf",
                       filename="счёт.pdf")  # fmt: skip
    return msg.as_bytes()


async def wait_for_mail(peers: MailPeers, user: str, timeout: float = 15) -> EmailMessage:
    """The newest message in a user's INBOX, waiting for one to arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = peers.doveadm("fetch", "-u", user, "text", "mailbox", "INBOX", "all")
        if out.strip():
            raw = out.split("text:\n")[-1].encode()
            msg = message_from_bytes(raw, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            return msg
        await asyncio.sleep(0.2)
    raise AssertionError(f"no mail for {user}")


async def wait_for_mail_with(peers: MailPeers, text: str) -> Any:
    """The client's mail whose body has ``text`` (the newest mail may be another one)."""
    for _ in range(100):
        mail = await wait_for_mail(peers, CLIENT)
        body = mail.get_body()
        if body is not None and text in body.get_content():
            return mail
        out = peers.doveadm("search", "-u", CLIENT, "mailbox", "INBOX", "body", text)
        if out.strip():
            uid = out.split()[-1]
            raw = peers.doveadm("fetch", "-u", CLIENT, "text", "mailbox", "INBOX", "uid", uid)
            return message_from_bytes(raw.split("text:\n")[-1].encode(), policy=policy.default)
    raise AssertionError(f"no mail with {text!r}")

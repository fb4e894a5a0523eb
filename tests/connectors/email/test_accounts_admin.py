"""Admins manage mailboxes from the console against real Dovecot and Postfix: a mailbox added
through the channels API is read at once, a PATCH that sends the masked password back keeps it,
and a disabled mailbox is no longer fetched (its mail waits on the server until it is enabled).
"""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.hubclient import OperatorClient
from tests.support.mailpeers import SUPPORT, MailPeers

pytestmark = pytest.mark.timeout(90)


def mail(sender: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.test>"
    msg.set_content(body)
    return msg.as_bytes()


async def client_text(admin: OperatorClient, needle: str, timeout: float = 20) -> dict[str, Any]:
    """The next client message on the console whose text contains ``needle``."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await admin.receive(timeout=timeout)
            message = frame.get("message") or {}
            if frame["type"] == "message" and needle in (message.get("text") or ""):
                return dict(message)


async def imap_sessions(peers: MailPeers, user: str) -> int:
    """How many IMAP connections the user has open on the real Dovecot."""
    out = await asyncio.to_thread(peers.doveadm, "who", "-1")
    return sum(1 for row in out.splitlines() if row.split() and row.split()[0] == user)


async def until_sessions(peers: MailPeers, user: str, wanted: bool, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (await imap_sessions(peers, user) > 0) != wanted:
        assert time.monotonic() < deadline, f"IMAP sessions of {user}: still not {wanted}"
        await asyncio.sleep(0.2)


async def test_bad_mailbox_settings_are_refused_naming_the_field(
    admin: OperatorClient, account_config: dict[str, Any]
) -> None:
    new = {"kind": "email", "key": "support-mail", "name": "Support", "line_id": 1}
    without_password = {k: v for k, v in account_config.items() if k != "password"}
    for config, reason in [
        (without_password, "config.password: Field required"),
        (account_config | {"imap_port": 70000}, "config.imap_port: "),
        (account_config | {"imap_tls": "starttls"}, "config.imap_tls: "),
        (account_config | {"from_address": "support"}, "config.from_address: "),
        (account_config | {"rules": [{"line_id": 999, "sender": "*@vip.test"}]},
         "config.rules.0.line_id: no such line"),
        (account_config | {"lines": {"7": {"signature": "x"}}}, "config.lines.7: no such line"),
        (account_config | {"pop3": True}, "config.pop3: Extra inputs"),
    ]:  # fmt: skip
        status, answer = await admin.call("POST", "/api/admin/channels", new | {"config": config})
        assert status == 400 and answer["error"].startswith(reason), (reason, answer)


async def test_a_mailbox_added_in_the_console_is_read_at_once_and_stops_when_disabled(
    admin: OperatorClient, mailboxes: MailPeers, account_config: dict[str, Any]
) -> None:
    # Mail that was waiting before the mailbox was added: found by the first fetch.
    mailboxes.deliver(mail("early@example.test", "first question", "Do you ship abroad?"))
    config = account_config | {"lines": {"1": {"signature": "The shop team"}}}
    status, answer = await admin.call("POST", "/api/admin/channels", {
        "kind": "email", "key": "support-mail", "name": "Support", "line_id": 1,
        "config": config})  # fmt: skip
    assert status == 201, answer
    channel = answer["channel"]
    assert channel["config"]["password"] == "••••" and channel["config"]["smtp_password"] is None
    assert channel["secret_fields"] == ["password", "smtp_password"]
    assert channel["config"]["lines"]["1"]["signature"] == "The shop team"
    assert (await client_text(admin, "Do you ship abroad?"))["author"] == "client"

    # The whole masked view sent back with one change: the stored password is kept, and the
    # restarted watcher (its settings changed) still logs in and reads new mail.
    status, answer = await admin.call(
        "PATCH",
        f"/api/admin/channels/{channel['id']}",
        {"config": channel["config"] | {"from_name": "Help desk"}},
    )
    assert status == 200 and answer["channel"]["config"]["from_name"] == "Help desk"
    mailboxes.deliver(mail("second@example.test", "second question", "And to Norway?"))
    await client_text(admin, "And to Norway?")

    await until_sessions(mailboxes, SUPPORT, True)  # IDLE keeps a session open while enabled
    status, answer = await admin.call("POST", f"/api/admin/channels/{channel['id']}/disable")
    assert status == 200 and answer["channel"]["enabled"] is False
    # The hub logged out of the mailbox: ending IDLE and the LOGOUT are bounded by 12 s
    # (connectors/email/imap.py), and a loaded machine is slow to run ``doveadm who``.
    await until_sessions(mailboxes, SUPPORT, False, timeout=30)
    mailboxes.deliver(mail("third@example.test", "third question", "Sent while it was off"))
    with pytest.raises(TimeoutError):  # several poll intervals (2 s) pass without a fetch
        await client_text(admin, "Sent while it was off", timeout=6)
    assert await imap_sessions(mailboxes, SUPPORT) == 0

    await admin.call("POST", f"/api/admin/channels/{channel['id']}/enable")
    await client_text(admin, "Sent while it was off")

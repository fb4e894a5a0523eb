"""The SMTP sender against a real Postfix: 4xx means later, 5xx means never, with the reason."""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from typing import Any

import pytest

from connectors.email import smtp
from connectors.email.config import EmailAccount
from connectors.email.smtp import send_mail
from connectors.outbound import SendError, SendLater
from tests.support.mailpeers import BUSY, CLIENT, SUPPORT, MailPeers
from tests.support.slow_link import slow_link


def reply(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SUPPORT, to, "Re: x"
    msg.set_content("answer")
    return msg


async def test_a_large_reply_on_a_slow_uplink_is_waited_for_by_its_size(
    mailboxes: MailPeers, account_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 600 KB of files up at 256 KB/s take over 2 s, four times the fixed wait: the server
    # answers DATA only when the whole mail is in, and a fixed bound failed such a reply at
    # every retry.
    monkeypatch.setattr(smtp, "SMTP_TIMEOUT_S", 0.5)
    mail = reply(CLIENT)
    mail.add_attachment(os.urandom(450_000), maintype="application", subtype="pdf")
    async with slow_link("127.0.0.1", mailboxes.smtp_port, up=256 * 1024) as port:
        account = EmailAccount.model_validate(account_config | {"smtp_port": port})
        started = asyncio.get_running_loop().time()
        await send_mail(account, mail)
        assert asyncio.get_running_loop().time() - started > 2.0  # the link was slow
    for _ in range(100):  # Postfix hands it to Dovecot on its own time
        if "Re: x" in mailboxes.doveadm("fetch", "-u", CLIENT, "hdr.subject", "mailbox", "INBOX"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the reply never reached the client's mailbox")


async def test_a_4xx_is_retried_later_and_a_5xx_fails_with_the_servers_reason(
    mailboxes: MailPeers, account_config: dict[str, Any]
) -> None:
    account = EmailAccount.model_validate(account_config)
    with pytest.raises(SendLater, match="450"):
        await send_mail(account, reply(BUSY))
    with pytest.raises(SendError, match=r"550 5\.1\.1"):
        await send_mail(account, reply("someone@elsewhere.test"))
    await send_mail(account, reply("client@example.test"))  # accepted

"""The SMTP sender against a real Postfix: 4xx means later, 5xx means never, with the reason."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from connectors.email.config import EmailAccount
from connectors.email.smtp import send_mail
from connectors.outbound import SendError, SendLater
from tests.support.mailpeers import BUSY, SUPPORT, MailPeers


def reply(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SUPPORT, to, "Re: x"
    msg.set_content("answer")
    return msg


async def test_a_4xx_is_retried_later_and_a_5xx_fails_with_the_servers_reason(
    mailboxes: MailPeers, account_config: dict[str, Any]
) -> None:
    account = EmailAccount.model_validate(account_config)
    with pytest.raises(SendLater, match="450"):
        await send_mail(account, reply(BUSY))
    with pytest.raises(SendError, match=r"550 5\.1\.1"):
        await send_mail(account, reply("someone@elsewhere.test"))
    await send_mail(account, reply("client@example.test"))  # accepted

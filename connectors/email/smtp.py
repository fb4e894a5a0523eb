"""Handing a reply to the account's SMTP server, with its answer sorted into retry or fail.

A 4xx reply (greylisting, a full mailbox, a rate limit) and any network trouble mean "later":
``SendLater``. A 5xx reply means the server will never take this message: ``SendError`` with
the server's own words, which the operator sees next to the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from connectors.email.config import EmailAccount, TlsMode
from connectors.outbound import SendError, SendLater
from connectors.slow_links import transfer_s

SMTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpServer:
    """An SMTP server and the sender mail goes out as: an email channel's, or the hub's own."""

    host: str
    port: int
    tls: TlsMode
    login: str | None
    password: str | None
    from_address: str
    from_name: str

    @classmethod
    def of_account(cls, account: EmailAccount) -> SmtpServer:
        """The SMTP side of an email channel's account."""
        password = account.smtp_password or account.password
        return cls(
            host=account.smtp_host,
            port=account.smtp_port,
            tls=account.smtp_tls,
            login=account.smtp_login,
            password=password.get_secret_value(),
            from_address=account.from_address,
            from_name=account.from_name,
        )

    async def submit(self, mail: EmailMessage) -> None:
        """Hand one message to the server; raises ``aiosmtplib.SMTPException`` or ``OSError``."""
        # The server answers DATA once the whole mail is in: a reply with 10 MB of files takes
        # minutes on a slow uplink, and a fixed bound would fail it at every retry.
        seconds = SMTP_TIMEOUT_S + transfer_s(_wire_size(mail))
        await aiosmtplib.send(
            mail,
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "ssl",
            start_tls=self.tls == "starttls",
            # Only an explicit SMTP login authenticates: many relays on a LAN take none.
            username=self.login,
            password=self.password if self.login else None,
            # The default asks the resolver for our FQDN, which can stall for seconds.
            local_hostname=self.from_address.rsplit("@", 1)[-1],
            timeout=seconds,
        )


def _wire_size(mail: EmailMessage) -> int:
    """About the mail's size as sent: its parts as they are encoded, without flattening it."""
    parts = (part.get_payload() for part in mail.walk() if not part.is_multipart())
    return sum(len(payload) for payload in parts if isinstance(payload, str | bytes))


def _classify(code: int, text: str) -> Exception:
    reason = f"SMTP {code} {' '.join(text.split())}".strip()
    return SendError(reason) if 500 <= code < 600 else SendLater(reason)


async def send_mail(account: EmailAccount, mail: EmailMessage) -> None:
    """Send one message; raises SendLater or SendError when the server does not accept it."""
    try:
        await SmtpServer.of_account(account).submit(mail)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        # One recipient per reply: its refusal is the answer.
        first = exc.recipients[0] if exc.recipients else None
        if first is None:
            raise SendLater("SMTP: recipient refused without a reason") from exc
        raise _classify(first.code, first.message) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _classify(exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendLater(f"SMTP: {type(exc).__name__}: {exc}") from exc

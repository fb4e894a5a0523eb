"""Which SMTP server sends the digest, and sending one digest through it.

The hub settings ``digest_smtp_*`` win when ``digest_smtp_host`` is set; otherwise the SMTP
account of the first enabled email channel (lowest id) whose settings are valid sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from connectors.email.config import TlsMode, load_account
from core.db.schema import Channel

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DigestSmtp:
    """An SMTP server and the sender the digest goes out as."""

    host: str
    port: int
    tls: TlsMode
    login: str | None
    password: str | None
    from_address: str
    from_name: str

    async def send(self, mail: EmailMessage) -> None:
        """Hand one message to the server; raises ``aiosmtplib.SMTPException`` or ``OSError``."""
        await aiosmtplib.send(
            mail,
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "ssl",
            start_tls=self.tls == "starttls",
            username=self.login,
            password=self.password if self.login else None,
            # The default asks the resolver for our FQDN, which can stall for seconds.
            local_hostname=self.from_address.rsplit("@", 1)[-1],
            timeout=SMTP_TIMEOUT_S,
        )


async def digest_smtp(session: AsyncSession, settings: Settings) -> DigestSmtp | None:
    """The server the digest goes through, or None when the hub has none."""
    if settings.digest_smtp_host:
        return DigestSmtp(
            host=settings.digest_smtp_host,
            port=settings.digest_smtp_port,
            tls=settings.digest_smtp_tls,
            login=settings.digest_smtp_login or None,
            password=settings.digest_smtp_password.get_secret_value() or None,
            from_address=settings.digest_from_address,
            from_name="Openlines",
        )
    channels = await session.scalars(
        select(Channel).where(Channel.kind == "email", Channel.enabled).order_by(Channel.id)
    )
    for channel in channels:
        account = load_account(dict(channel.config))
        if isinstance(account, str):
            log.warning("weekly digest: email channel %d is misconfigured: %s", channel.id, account)
            continue
        password = account.smtp_password or account.password
        return DigestSmtp(
            host=account.smtp_host,
            port=account.smtp_port,
            tls=account.smtp_tls,
            login=account.smtp_login,
            password=password.get_secret_value(),
            from_address=account.from_address,
            from_name=account.from_name,
        )
    return None

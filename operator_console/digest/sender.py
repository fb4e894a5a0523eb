"""Which SMTP server sends the digest.

The hub settings ``digest_smtp_*`` win when ``digest_smtp_host`` is set; otherwise the SMTP
account of the first enabled email channel (lowest id) whose settings are valid sends it.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from connectors.email.config import load_account
from connectors.email.smtp import SmtpServer
from core.db.schema import Channel

log = logging.getLogger(__name__)


async def digest_smtp(session: AsyncSession, settings: Settings) -> SmtpServer | None:
    """The server the digest goes through, or None when the hub has none."""
    if settings.digest_smtp_host:
        return SmtpServer(
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
        return SmtpServer.of_account(account)
    return None

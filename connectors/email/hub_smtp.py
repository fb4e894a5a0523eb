"""Which SMTP server sends the hub's own mail (the weekly digest, answers to visitors who
left the web chat, transcripts).

A line's own email channel comes first when the mail concerns a line: the client sees the
address they would write to. Otherwise the hub settings ``digest_smtp_*`` win when
``digest_smtp_host`` is set, and then the SMTP account of the first enabled email channel
(lowest id) whose settings are valid.
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


async def hub_smtp(
    session: AsyncSession, settings: Settings, line_id: int | None = None
) -> SmtpServer | None:
    """The server the hub's own mail goes through, or None when the hub has none.

    ``line_id``: the line the mail speaks for; its enabled email channel wins."""
    if line_id is not None:
        own = await _first_account(session, line_id)
        if own is not None:
            return own
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
    return await _first_account(session, None)


async def _first_account(session: AsyncSession, line_id: int | None) -> SmtpServer | None:
    """The SMTP side of the first valid enabled email channel (of the line, if given)."""
    query = select(Channel).where(Channel.kind == "email", Channel.enabled).order_by(Channel.id)
    if line_id is not None:
        query = query.where(Channel.line_id == line_id)
    for channel in await session.scalars(query):
        account = load_account(dict(channel.config))
        if isinstance(account, str):
            log.warning("hub mail: email channel %d is misconfigured: %s", channel.id, account)
            continue
        return SmtpServer.of_account(account)
    return None

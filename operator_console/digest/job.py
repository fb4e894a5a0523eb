"""The weekly digest job: a timer that sleeps until the next week end, then sends once.

It is a timer, not a scan: the job computes the next Monday 00:00 in ``digest_time_zone``
and waits for it (re-reading its clock at least hourly, so a suspended machine or a changed
clock does not move the send by hours). Every console process runs the job; the first to
claim the week's Redis key (``SET NX`` with a TTL) sends, the others skip that week. A
process that is down at the week end does not send that week's digest later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
from aiosmtplib import SMTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from connectors.email.hub_smtp import hub_smtp
from connectors.email.smtp import SmtpServer
from core.db import SessionMaker
from core.db.schema import Operator
from core.roles import READ_ONLY_ROLES
from operator_console.admin_operators_api import DISABLED
from operator_console.digest.content import OperatorLine, Reader, digest_mail
from operator_console.digest.schedule import next_week_end, week_ended_at
from operator_console.kpi.board_api import board_people, board_rows, rating_rows
from operator_console.kpi.periods import Period
from operator_console.kpi.plans_api import weights_of
from operator_console.kpi.scope import readable_operators

log = logging.getLogger(__name__)

CLAIM_TTL = timedelta(days=14)
"""How long a week's claim is kept: well past the week end, so no late process sends it."""
RECHECK_S = 3600.0


class Clock(Protocol):
    """The job's notion of time (tests pass one that jumps to the week end)."""

    def now(self) -> datetime:
        """The current UTC instant."""
        ...

    async def wait(self, seconds: float, stopping: asyncio.Event) -> None:
        """Return after ``seconds``, or as soon as ``stopping`` is set."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current UTC instant."""
        return datetime.now(UTC)

    async def wait(self, seconds: float, stopping: asyncio.Event) -> None:
        """Sleep ``seconds`` or until ``stopping``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)


def claim_key(period: Period) -> str:
    """The Redis key whose holder sends the digest of ``period``."""
    return f"digest:week:{period.first.isoformat()}"


class WeeklyDigest:
    """Sends each week's digest once across every process that runs it."""

    def __init__(
        self,
        sessions: SessionMaker,
        redis: aioredis.Redis,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.sessions, self.redis, self.settings = sessions, redis, settings
        self.clock: Clock = clock or SystemClock()

    async def run(self, stopping: asyncio.Event) -> None:
        """Wait for each week end and send its digest, until ``stopping`` is set."""
        if not self.settings.weekly_digest:
            log.info("weekly digest is off (weekly_digest = false)")
            return
        zone = self.settings.digest_time_zone
        while not stopping.is_set():
            end = next_week_end(self.clock.now(), zone)
            while not stopping.is_set() and (left := (end - self.clock.now()).total_seconds()) > 0:
                await self.clock.wait(min(left, RECHECK_S), stopping)
            if not stopping.is_set():
                await self.do_send_week(week_ended_at(end, zone))

    async def do_send_week(self, period: Period) -> int:
        """Send the digest of ``period`` if no process has claimed it; how many were sent."""
        claimed = await self.redis.set(
            claim_key(period), "sending", nx=True, ex=int(CLAIM_TTL.total_seconds())
        )
        if not claimed:
            log.info("weekly digest of %s: another process sends it", period.first)
            return 0
        async with self.sessions() as session:
            smtp = await hub_smtp(session, self.settings)
            if smtp is None:
                log.warning("weekly digest: no SMTP server (no email channel, no digest_smtp_host)")
                return 0
            readers = await digest_readers(session)
            lines = await week_lines(session, period) if readers else {}
        return await _send_all(smtp, period, readers, lines)


async def _send_all(
    smtp: SmtpServer, period: Period, readers: list[Reader], lines: dict[int, OperatorLine]
) -> int:
    sent = 0
    for reader in readers:
        mine = [line for op, line in lines.items() if reader.may_read(op)]
        mail = digest_mail(reader, period, mine, (smtp.from_name, smtp.from_address))
        try:
            await smtp.submit(mail)
            sent += 1
        except (SMTPException, OSError, TimeoutError) as exc:
            # One bad address must not cost the others their digest.
            log.error("weekly digest to operator %d failed: %s", reader.operator_id, exc)
    log.info("weekly digest of %s: %d of %d sent", period.first, sent, len(readers))
    return sent


async def digest_readers(session: AsyncSession) -> list[Reader]:
    """Everyone with an email who gets a digest: operators their own row, managers their
    group's, admins everyone's (analysts and disabled operators none)."""
    operators = await session.scalars(
        select(Operator)
        .where(Operator.email.is_not(None), Operator.role.not_in(READ_ONLY_ROLES))
        .order_by(Operator.id)
    )
    readers = []
    for op in operators:
        if not op.email or op.password_hash.startswith(DISABLED):
            continue
        scope = None if op.role == "admin" else await readable_operators(session, op)
        readers.append(Reader(op.id, op.name, op.email, op.role, scope))
    return readers


async def week_lines(session: AsyncSession, period: Period) -> dict[int, OperatorLine]:
    """Every operator's board row and rating place for ``period``, in board order."""
    board = await board_rows(session, period, await board_people(session, None, None))
    ranked = await rating_rows(session, period, await weights_of(session))
    places = {row["operator_id"]: row for row in ranked}
    return {
        row["operator_id"]: OperatorLine(row, places[row["operator_id"]], len(ranked))
        for row in board
    }

"""The weekly digest through real SMTP: when the week ends on the job's clock, the operator,
the manager and the admin each get their own figures once, however many processes run the
job; switched off, nobody gets anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from config.settings import Settings
from core.db import SessionMaker
from core.db.schema import Channel, Line
from operator_console.digest import WeeklyDigest
from operator_console.digest.job import claim_key
from operator_console.digest.schedule import week_ended_at
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient
from tests.support.kpi_world import KpiWorld, expected_facts, seed_kpi_world
from tests.support.mailpeers import CLIENT, OTHER, PASSWORD, SUPPORT, MailPeers

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

SUNDAY_LATE = datetime(2026, 3, 8, 23, 58, tzinfo=UTC)
"""Two minutes before the end of the seeded week (2026-03-02 – 2026-03-08) in UTC."""
WEEK = "period=week&date=2026-03-05"
EMAILS = {"olga": CLIENT, "mara": OTHER, "admin": SUPPORT}


class JumpingClock:
    """A clock whose waits take no time, up to ``stop_at``: a wait that would pass it parks
    the job (``parked``) until the test stops it."""

    def __init__(self, start: datetime, stop_at: datetime) -> None:
        self.at, self.stop_at = start, stop_at
        self.parked = asyncio.Event()

    def now(self) -> datetime:
        return self.at

    async def wait(self, seconds: float, stopping: asyncio.Event) -> None:
        if self.at + timedelta(seconds=seconds) > self.stop_at:
            self.parked.set()
            await stopping.wait()
            return
        self.at += timedelta(seconds=seconds)


@pytest.fixture
async def world(db: SessionMaker, mailboxes: MailPeers) -> KpiWorld:
    """The KPI world, and an email channel on the local Postfix."""
    world = await seed_kpi_world(db, seed=3)
    async with db() as s, s.begin():
        line = await s.scalar(select(Line).order_by(Line.id).limit(1))
        assert line is not None
        config = {"imap_host": "127.0.0.1", "imap_port": mailboxes.imap_port, "imap_tls": "none",
                  "login": SUPPORT, "password": PASSWORD, "smtp_host": "127.0.0.1",
                  "smtp_port": mailboxes.smtp_port, "smtp_tls": "none",
                  "from_address": SUPPORT, "from_name": "Support"}  # fmt: skip
        s.add(Channel(line_id=line.id, kind="email", key="digest-mail", name="Mail", config=config))
    return world


@pytest.fixture
async def admin(hub: str, world: KpiWorld) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    yield client
    await client.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def run_jobs(jobs: list[tuple[WeeklyDigest, JumpingClock]]) -> None:
    """Run the jobs until each has handled the week end and parked, then stop them."""
    stopping = asyncio.Event()
    tasks = [asyncio.create_task(job.run(stopping)) for job, _clock in jobs]
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(clock.parked.wait() for _job, clock in jobs))
    finally:
        stopping.set()
        await asyncio.gather(*tasks)


def inbox(peers: MailPeers, user: str) -> list[EmailMessage]:
    """Every message in a user's INBOX."""
    uids = peers.doveadm("search", "-u", user, "mailbox", "INBOX", "all").split()[1::2]
    mails = []
    for uid in uids:
        out = peers.doveadm("fetch", "-u", user, "text", "mailbox", "INBOX", "uid", uid)
        msg = message_from_bytes(out.split("text:\n", 1)[1].encode(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        mails.append(msg)
    return mails


async def inboxes(peers: MailPeers) -> dict[str, list[EmailMessage]]:
    """Each reader's mail, once Postfix has delivered what it took (it queues, then hands on)."""
    for _ in range(100):
        mail = {who: inbox(peers, address) for who, address in EMAILS.items()}
        if all(mail.values()):
            await asyncio.sleep(0.5)  # a duplicate would arrive about as fast
            return {who: inbox(peers, address) for who, address in EMAILS.items()}
        await asyncio.sleep(0.1)
    raise AssertionError(f"not every reader got mail: {mail}\n{peers.postfix.maillog()}")


def plain(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def set_up_people(admin: OperatorClient, world: KpiWorld) -> dict[str, Any]:
    """Emails through the admin API (a bad one is refused), a hostile name, two plans; the
    board and rating the API shows for the week."""
    ids = {**world.ids, "admin": (await admin.call("GET", "/api/me"))[1]["operator"]["id"]}
    bad = await admin.call("PATCH", f"/api/admin/operators/{ids['olga']}", {"email": "olga@"})
    assert bad[0] == 400 and "email" in bad[1]["error"], bad
    for who, address in EMAILS.items():
        status, body = await admin.call("PATCH", f"/api/admin/operators/{ids[who]}",
                                        {"email": address})  # fmt: skip
        assert status == 200 and body["operator"]["email"] == address, body
    name = {"name": "Ivan <i>Grozny</i> & Co"}
    assert (await admin.call("PATCH", f"/api/admin/operators/{ids['ivan']}", name))[0] == 200
    for plan in ({"kind": "dialogs", "target": 5, "group_id": ids["north"]},
                 {"kind": "missed", "target": 0, "operator_id": ids["petr"]}):  # fmt: skip
        assert (await admin.call("PUT", "/api/kpi/plans", {"period": "week", **plan}))[0] == 200
    board = (await admin.call("GET", f"/api/kpi/board?{WEEK}"))[1]
    rating = (await admin.call("GET", f"/api/kpi/rating?{WEEK}"))[1]
    places = {row["operator_id"]: row for row in rating["rows"]}
    return {"rows": board["rows"], "places": places, "ranked": rating["ranked"]}


def heading(row: dict[str, Any], expected: dict[str, Any]) -> str:
    place, ranked = expected["places"][row["operator_id"]], expected["ranked"]
    return f"{row['name']}: {place['points']:g} points, rank {place['rank']} of {ranked}"


async def test_at_the_week_end_each_reader_gets_their_figures_once_across_two_processes(
    admin: OperatorClient, world: KpiWorld, db: SessionMaker, settings: Settings,
    redis: aioredis.Redis, mailboxes: MailPeers,
) -> None:  # fmt: skip
    expected = await set_up_people(admin, world)
    rows = {row["name"].split()[0].lower(): row for row in expected["rows"]}
    stop_at = SUNDAY_LATE + timedelta(minutes=3)
    # Two console processes run the job; their clocks reach the week end together.
    clocks = [JumpingClock(SUNDAY_LATE, stop_at) for _ in range(2)]
    jobs = [(WeeklyDigest(db, redis, settings, clock), clock) for clock in clocks]
    await run_jobs(jobs)

    mail = await inboxes(mailboxes)
    assert {who: len(got) for who, got in mail.items()} == {"olga": 1, "mara": 1, "admin": 1}
    for who, got in mail.items():
        assert got[0]["Subject"] == "Weekly KPI digest, 2026-03-02 – 2026-03-08", who
        assert got[0]["From"].addresses[0].addr_spec == SUPPORT

    # Olga: her own figures only; the group's plan of 5 dialogs against what she did.
    olga = plain(mail["olga"][0])
    assert heading(rows["olga"], expected) in olga
    dialogs = next(k for k in rows["olga"]["kpis"] if k["kind"] == "dialogs")
    assert dialogs["fact"] == expected_facts(world, "olga")["dialogs"]
    verdict = "met" if dialogs["met"] else "missed"
    assert (f"  Dialogs handled: plan 5, fact {dialogs['fact']}, {dialogs['done_pct']:g}% done, "
            f"{verdict}") in olga  # fmt: skip
    assert "Mara" not in olga and "Petr" not in olga

    # Mara manages group north: Olga and herself; the admin: everyone on the board.
    mara = plain(mail["mara"][0])
    assert heading(rows["olga"], expected) in mara and heading(rows["mara"], expected) in mara
    assert "Petr" not in mara and "Ivan" not in mara
    everyone = plain(mail["admin"][0])
    for row in rows.values():
        assert heading(row, expected) in everyone
    missed = expected_facts(world, "petr")["missed"]
    assert f"  Missed dialogs: plan 0, fact {missed}, " in everyone
    html_part = mail["admin"][0].get_body(("html",))
    assert html_part is not None
    markup = html_part.get_content()
    assert "Ivan &lt;i&gt;Grozny&lt;/i&gt; &amp; Co" in markup and "<i>" not in markup

    # A process that comes to the same week later sends nothing either.
    late = WeeklyDigest(db, redis, settings)
    assert await late.do_send_week(week_ended_at(SUNDAY_LATE + timedelta(minutes=2), "UTC")) == 0
    await asyncio.sleep(0.5)
    assert [len(inbox(mailboxes, address)) for address in EMAILS.values()] == [1, 1, 1]


async def test_switched_off_the_week_end_sends_nothing(
    admin: OperatorClient, world: KpiWorld, db: SessionMaker, settings: Settings,
    redis: aioredis.Redis, mailboxes: MailPeers,
) -> None:  # fmt: skip
    await set_up_people(admin, world)
    clock = JumpingClock(SUNDAY_LATE, SUNDAY_LATE + timedelta(minutes=3))
    job = WeeklyDigest(db, redis, settings.model_copy(update={"weekly_digest": False}), clock)
    async with asyncio.timeout(5):
        await job.run(asyncio.Event())

    assert clock.at == SUNDAY_LATE and not clock.parked.is_set()
    week = week_ended_at(SUNDAY_LATE + timedelta(minutes=2), "UTC")
    assert await redis.exists(claim_key(week)) == 0
    await asyncio.sleep(1)
    assert [inbox(mailboxes, address) for address in EMAILS.values()] == [[], [], []]

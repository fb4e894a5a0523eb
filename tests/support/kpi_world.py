"""A seeded world for KPI and rating tests: lines in two time zones, operators, groups, and
random dialogs, CRM points, leads and email replies around one week, kept as plain data too so
tests can compute the expected figures in Python."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionMaker
from core.db.crm_schema import CrmLead, CrmPoints
from core.db.routing_schema import LineGroup, OperatorGroup, OperatorGroupMember
from core.db.schema import (
    Channel,
    Client,
    ClientIdentity,
    Dialog,
    Line,
    LineOperator,
    Message,
    Operator,
)
from operator_console.auth import hash_password

PASSWORD = "kpi-password-1"
WEEK_DAY = date(2026, 3, 5)
"""A Thursday; New York moves its clocks forward on the Sunday of that week."""
LINES = {"moscow": "Europe/Moscow", "newyork": "America/New_York"}
PEOPLE = {
    # login: (role, line the operator is on directly, groups)
    "olga": ("operator", "moscow", ["north"]),
    "mara": ("manager", None, ["north"]),
    "petr": ("operator", "newyork", ["south"]),
    "ivan": ("operator", None, []),
    "ada": ("analyst", None, []),
}
ZONES = {
    "olga": "Europe/Moscow",
    "mara": "Europe/Moscow",
    "petr": "America/New_York",
    "ivan": "UTC",
    "ada": "UTC",
}
"""Each person's time zone under the rule: their first line's, else UTC (north staffs moscow)."""


@dataclass
class SeededDialog:
    """A dialog as the test knows it."""

    operator: str | None
    kind: str
    opened_at: datetime
    first_response_s: int | None
    outcome: str | None
    rating: int | None


@dataclass
class KpiWorld:
    """Ids by name, and everything seeded as plain data."""

    ids: dict[str, int] = field(default_factory=dict)
    dialogs: list[SeededDialog] = field(default_factory=list)
    points: list[tuple[str, datetime, int]] = field(default_factory=list)
    leads: list[tuple[str, datetime]] = field(default_factory=list)
    email_replies: list[tuple[str, datetime]] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)
    """The client of each of ``dialogs`` (one client a dialog)."""


EDGES = [
    # Sunday 23:30 before the week in New York (EST): out. Sunday 23:30 at its end, after the
    # clocks moved (EDT): in. The same instants are Monday in Moscow.
    SeededDialog("petr", "webchat", datetime(2026, 3, 2, 4, 30, tzinfo=UTC), 30, "answered", 5),
    SeededDialog("petr", "webchat", datetime(2026, 3, 9, 3, 30, tzinfo=UTC), 40, "answered", 4),
    SeededDialog("olga", "webchat", datetime(2026, 3, 1, 21, 30, tzinfo=UTC), 50, "answered", 3),
    SeededDialog("olga", "webchat", datetime(2026, 3, 8, 21, 30, tzinfo=UTC), 60, "missed", None),
]
"""Dialogs at the edges of the week in each zone (Moscow is UTC+3 all year)."""


async def _structure(db: SessionMaker, world: KpiWorld) -> None:
    async with db() as s, s.begin():
        for key, zone in LINES.items():
            line = Line(key=key, name=key.title(), timezone=zone)
            s.add(line)
            await s.flush()
            world.ids[key] = line.id
            for kind in ("webchat", "email", "telegram"):
                channel = Channel(
                    line_id=line.id, kind=kind, key=f"{key}-{kind}", name=kind, enabled=False
                )
                s.add(channel)
                await s.flush()
                world.ids[f"{key}-{kind}"] = channel.id
        for name in ("north", "south"):
            group = OperatorGroup(name=name)
            s.add(group)
            await s.flush()
            world.ids[name] = group.id
        s.add(LineGroup(line_id=world.ids["moscow"], group_id=world.ids["north"], position=9))
        password_hash = hash_password(PASSWORD)
        for login, (role, home, groups) in PEOPLE.items():
            person = Operator(
                login=login, name=login.title(), role=role, password_hash=password_hash
            )
            s.add(person)
            await s.flush()
            world.ids[login] = person.id
            if home is not None:
                s.add(LineOperator(line_id=world.ids[home], operator_id=person.id, position=1))
            for name in groups:
                s.add(OperatorGroupMember(group_id=world.ids[name], operator_id=person.id))


def _random_dialog(rng: random.Random, start: datetime) -> SeededDialog:
    operator = rng.choice(["olga", "petr", "ivan", "mara", None])
    # Up to two days either side of the week, so some fall just outside in one zone only.
    opened = start + timedelta(seconds=rng.randrange(0, 11 * 86400))
    answered = operator is not None and rng.random() < 0.7
    outcome = "answered" if answered else rng.choice(["missed", "client_left", None])
    return SeededDialog(
        operator=operator,
        kind=rng.choice(["webchat", "email", "telegram"]),
        opened_at=opened,
        first_response_s=rng.randrange(1, 900) if answered else None,
        outcome=outcome,
        rating=rng.choice([None, 1, 2, 3, 4, 5]) if answered else None,
    )


async def _dialog(s: AsyncSession, world: KpiWorld, seeded: SeededDialog, n: int) -> int:
    line = "newyork" if seeded.operator == "petr" else "moscow"
    channel = world.ids[f"{line}-{seeded.kind}"]
    client = Client(name=f"Client {n}")
    s.add(client)
    await s.flush()
    identity = ClientIdentity(client_id=client.id, channel_id=channel, external_id=f"c{n}")
    s.add(identity)
    await s.flush()
    first = (
        None
        if seeded.first_response_s is None
        else seeded.opened_at + timedelta(seconds=seeded.first_response_s)
    )
    dialog = Dialog(
        line_id=world.ids[line],
        channel_id=channel,
        client_id=client.id,
        identity_id=identity.id,
        operator_id=None if seeded.operator is None else world.ids[seeded.operator],
        status="closed" if seeded.outcome else "open",
        opened_at=seeded.opened_at,
        first_response_at=first,
        outcome=seeded.outcome,
        rating=seeded.rating,
        last_message_at=seeded.opened_at,
    )
    s.add(dialog)
    await s.flush()
    world.clients.append(client.id)
    return dialog.id


async def _crm(
    db: SessionMaker, world: KpiWorld, rng: random.Random, dialog_ids: list[int], start: datetime
) -> None:
    async with db() as s, s.begin():
        for dialog_id, seeded in zip(dialog_ids, world.dialogs, strict=True):
            if seeded.operator is None:
                continue
            dialog = await s.get(Dialog, dialog_id)
            assert dialog is not None
            if rng.random() < 0.3:
                at = seeded.opened_at + timedelta(minutes=5)
                s.add(
                    CrmLead(
                        client_id=dialog.client_id,
                        source_dialog_id=dialog_id,
                        line_id=dialog.line_id,
                        channel_kind=seeded.kind,
                        created_at=at,
                    )
                )
                world.leads.append((seeded.operator, at))
            if rng.random() < 0.4:
                at = start + timedelta(seconds=rng.randrange(0, 11 * 86400))
                worth = rng.choice([2, 5, 10])
                s.add(
                    CrmPoints(
                        operator_id=world.ids[seeded.operator],
                        client_id=dialog.client_id,
                        field="phone",
                        points=worth,
                        created_at=at,
                    )
                )
                world.points.append((seeded.operator, at, worth))
            if seeded.kind == "email" and seeded.first_response_s is not None:
                at = seeded.opened_at + timedelta(seconds=seeded.first_response_s)
                for hidden in (False, True):  # a hidden note is not a reply
                    s.add(
                        Message(
                            dialog_id=dialog_id,
                            channel_id=dialog.channel_id,
                            author="operator",
                            operator_id=world.ids[seeded.operator],
                            text="reply",
                            hidden=hidden,
                            created_at=at,
                        )
                    )
                world.email_replies.append((seeded.operator, at))


async def seed_kpi_world(db: SessionMaker, seed: int, dialogs: int = 60) -> KpiWorld:
    """The structure, then ``dialogs`` random dialogs around the week of ``WEEK_DAY``."""
    world = KpiWorld()
    await _structure(db, world)
    rng = random.Random(seed)
    monday = WEEK_DAY - timedelta(days=WEEK_DAY.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) - timedelta(days=2)
    world.dialogs = [*EDGES, *(_random_dialog(rng, start) for _ in range(dialogs))]
    async with db() as s, s.begin():
        ids = [await _dialog(s, world, d, n) for n, d in enumerate(world.dialogs)]
    await _crm(db, world, rng, ids, start)
    return world


def in_week(who: str, at: datetime) -> bool:
    """Whether ``at`` falls in the week of ``WEEK_DAY`` in the time zone of ``who``."""
    monday = WEEK_DAY - timedelta(days=WEEK_DAY.weekday())
    local = at.astimezone(ZoneInfo(ZONES[who])).date()
    return monday <= local <= monday + timedelta(days=6)


def expected_facts(world: KpiWorld, who: str) -> dict[str, Any]:
    """What ``who`` did in the week, counted the plain way."""
    mine = [d for d in world.dialogs if d.operator == who and in_week(who, d.opened_at)]
    answered = [d for d in mine if d.first_response_s is not None]
    ratings = [d.rating for d in mine if d.rating is not None]
    frt = sorted(float(d.first_response_s) for d in answered if d.first_response_s is not None)
    p90 = frt[-(-len(frt) * 9 // 10) - 1] if frt else None
    kinds: dict[str, int] = {}
    for d in answered:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    points = [p for w, at, p in world.points if w == who and in_week(who, at)]
    return {
        "dialogs": len(answered),
        "missed": sum(1 for d in mine if d.outcome == "missed"),
        "rating_avg": sum(ratings) / len(ratings) if ratings else None,
        "frt_p90_s": p90,
        "crm_points": sum(points),
        "crm_fields": len(points),
        "answered_by_kind": kinds,
        "leads": sum(1 for w, at in world.leads if w == who and in_week(who, at)),
        "email_replies": sum(1 for w, at in world.email_replies if w == who and in_week(who, at)),
    }

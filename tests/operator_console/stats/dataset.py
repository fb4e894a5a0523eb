"""Lines, channels and operators for the statistics tests, and dialogs written straight into
the database from their plain form (``reference.PlainDialog``).

Line ``berlin`` (Europe/Berlin) works Monday to Friday 09:00-18:00 plus a Saturday night
shift 22:00-02:00; line ``newyork`` (America/New_York) has no schedule (always open). Both
zones change their clocks in the generated dates: Berlin on 2026-03-29 and 2026-10-25, New
York on 2026-03-08 and 2026-11-01.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from config.lines import LineSettings
from core.db import SessionMaker
from core.db.rollup_schema import DialogDay, DialogDayResponse, DialogMonthResponse
from core.db.schema import Channel, Client, ClientIdentity, Dialog, Line, Operator
from operator_console.auth import hash_password
from tests.operator_console.stats.reference import PlainDialog, PlainLine

BERLIN_WEEK = {
    "mon": ["09:00-18:00"],
    "tue": ["09:00-18:00"],
    "wed": ["09:00-18:00"],
    "thu": ["09:00-18:00"],
    "fri": ["09:00-18:00"],
    "sat": ["22:00-02:00"],
}


@dataclass
class Places:
    """Ids of what the dialogs hang on, and the lines as the reference sees them."""

    lines: dict[int, PlainLine]
    line_ids: dict[str, int]
    channels: dict[int, tuple[int, str]]
    """channel id -> (line id, kind)"""
    operators: dict[str, int]
    client_id: int
    identity_ids: dict[int, int]


async def make_places(db: SessionMaker) -> Places:
    """Two lines with two channels each, two operators (password ``pw-<login>``) and one
    client."""
    settings = {"schedule": {"week": BERLIN_WEEK}}
    async with db() as s, s.begin():
        berlin = Line(key="berlin", name="Berlin", timezone="Europe/Berlin", settings=settings)
        newyork = Line(key="newyork", name="New York", timezone="America/New_York", settings={})
        s.add_all([berlin, newyork])
        await s.flush()
        made = [
            Channel(line_id=berlin.id, kind="webchat", key="b-web", name="Berlin site"),
            Channel(line_id=berlin.id, kind="telegram", key="b-tg", name="Berlin bot"),
            Channel(line_id=newyork.id, kind="telegram", key="n-tg", name="NY bot"),
            Channel(line_id=newyork.id, kind="email", key="n-mail", name="NY mail"),
        ]
        olga, petr = (
            Operator(login=login, name=login.title(), password_hash=hash_password("pw-" + login))
            for login in ("olga", "petr")
        )
        client = Client(name="=Eve")
        s.add_all([*made, olga, petr, client])
        await s.flush()
        identities = {
            c.id: ClientIdentity(client_id=client.id, channel_id=c.id, external_id=f"e{c.id}")
            for c in made
        }
        s.add_all(identities.values())
        await s.flush()
    schedule = LineSettings.model_validate(settings).build_schedule("Europe/Berlin")
    return Places(
        lines={
            berlin.id: PlainLine(ZoneInfo("Europe/Berlin"), schedule),
            newyork.id: PlainLine(ZoneInfo("America/New_York"), None),
        },
        line_ids={"berlin": berlin.id, "newyork": newyork.id},
        channels={c.id: (c.line_id, c.kind) for c in made},
        operators={"olga": olga.id, "petr": petr.id},
        client_id=client.id,
        identity_ids={c: i.id for c, i in identities.items()},
    )


async def put_dialogs(db: SessionMaker, places: Places, dialogs: Iterable[PlainDialog]) -> None:
    """Replace every dialog of the database with ``dialogs``."""
    async with db() as s, s.begin():
        # A bulk delete bypasses the unit of work that keeps the daily rollup.
        await s.execute(delete(Dialog))
        await s.execute(delete(DialogDay))
        await s.execute(delete(DialogDayResponse))
        await s.execute(delete(DialogMonthResponse))
        s.add_all(
            Dialog(
                line_id=d.line_id,
                channel_id=d.channel_id,
                client_id=places.client_id,
                identity_id=places.identity_ids[d.channel_id],
                operator_id=d.operator_id,
                status=d.status,
                opened_at=d.opened_at,
                first_response_at=d.first_response_at,
                closed_at=d.closed_at,
                last_message_at=d.closed_at or d.first_response_at or d.opened_at,
                began_in_hours=d.began_in_hours,
                outcome=d.outcome,
                rating=d.rating,
                client_messages=d.client_messages,
                operator_messages=d.operator_messages,
            )
            for d in dialogs
        )

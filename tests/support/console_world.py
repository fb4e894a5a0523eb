"""A small world in a hub's database for console API tests: two lines, operators on each,
and dialogs with messages in Russian and English."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.db import SessionMaker
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
from core.envelope import utcnow
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient


@dataclass
class World:
    """Line 1 ("Demo line", web chat) has operator olga; line 2 ("Sales", Telegram) has
    operator petr and manager mara. ``dialogs`` maps a name to a dialog id."""

    demo_line: int = 1
    sales_line: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    dialogs: dict[str, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)


async def _operator(db: SessionMaker, login: str, role: str, line_id: int) -> int:
    async with db() as s, s.begin():
        op = Operator(
            login=login, name=login.title(), role=role, password_hash=hash_password("pw-" + login)
        )
        s.add(op)
        await s.flush()
        s.add(LineOperator(line_id=line_id, operator_id=op.id, position=5))
    return op.id


async def add_dialog(
    db: SessionMaker,
    channel_id: int,
    line_id: int,
    client_name: str,
    texts: list[str],
    *,
    operator_id: int | None,
    status: str = "open",
    at: datetime | None = None,
) -> tuple[int, list[int]]:
    """A dialog of a new client with client messages ``texts``, one a minute from ``at``."""
    at = at or utcnow() - timedelta(hours=1)
    async with db() as s, s.begin():
        client = Client(name=client_name)
        s.add(client)
        await s.flush()
        identity = ClientIdentity(
            client_id=client.id,
            channel_id=channel_id,
            external_id=f"ext-{client.id}",
            display_name=client_name,
        )
        s.add(identity)
        await s.flush()
        dialog = Dialog(
            line_id=line_id,
            channel_id=channel_id,
            client_id=client.id,
            identity_id=identity.id,
            operator_id=operator_id,
            status=status,
            opened_at=at,
            last_message_at=at,
        )
        s.add(dialog)
        await s.flush()
        messages = [
            Message(
                dialog_id=dialog.id,
                channel_id=channel_id,
                author="client",
                author_name=client_name,
                text=t,
                created_at=at + timedelta(minutes=i),
            )
            for i, t in enumerate(texts)
        ]
        s.add_all(messages)
        await s.flush()
    return dialog.id, [m.id for m in messages]


async def make_world(db: SessionMaker) -> World:
    """Seed the world into a hub's database."""
    w = World()
    async with db() as s, s.begin():
        sales = Line(key="sales", name="Sales", settings={})
        s.add(sales)
        await s.flush()
        # Disabled: no connector runs for it, its dialogs are still searchable.
        tg = Channel(
            line_id=sales.id, kind="telegram", key="sales-tg", name="Sales bot", enabled=False
        )
        s.add(tg)
        await s.flush()
    w.sales_line, w.ids["sales_tg"] = sales.id, tg.id
    w.ids["olga"] = await _operator(db, "olga", "operator", w.demo_line)
    w.ids["petr"] = await _operator(db, "petr", "operator", sales.id)
    w.ids["mara"] = await _operator(db, "mara", "manager", sales.id)
    w.dialogs["olga"], ids = await add_dialog(
        db,
        1,
        w.demo_line,
        "Анна Петрова",
        ["привет, где мой заказ?", "жду ответа"],
        operator_id=w.ids["olga"],
    )
    w.messages["olga_hello"] = ids[0]
    w.dialogs["petr"], ids = await add_dialog(
        db,
        tg.id,
        sales.id,
        "Ivan Sidorov",
        ["Привет! Want the blue kettle", "delivery?"],
        operator_id=w.ids["petr"],
        status="closed",
    )
    w.messages["petr_hello"] = ids[0]
    return w


async def logged_in(hub: str, login: str) -> OperatorClient:
    """A console user who has logged in (admin with the admin password)."""
    client = OperatorClient(hub)
    await client.login(login, ADMIN_PASSWORD if login == "admin" else "pw-" + login)
    return client


async def add_earlier_dialog(
    db: SessionMaker,
    client_id: int,
    channel_id: int,
    line_id: int,
    texts: list[str],
    at: datetime,
    *,
    external_id: str,
    display_name: str,
    operator_id: int | None = None,
) -> int:
    """A closed dialog of an existing client on another channel, under a new identity."""
    async with db() as s, s.begin():
        identity = ClientIdentity(
            client_id=client_id,
            channel_id=channel_id,
            external_id=external_id,
            display_name=display_name,
        )
        s.add(identity)
        await s.flush()
        dialog = Dialog(
            line_id=line_id,
            channel_id=channel_id,
            client_id=client_id,
            identity_id=identity.id,
            operator_id=operator_id,
            status="closed",
            opened_at=at,
            last_message_at=at,
            closed_at=at + timedelta(hours=1),
        )
        s.add(dialog)
        await s.flush()
        s.add_all(
            Message(
                dialog_id=dialog.id,
                channel_id=channel_id,
                author="client",
                author_name=display_name,
                text=t,
                created_at=at + timedelta(minutes=i),
            )
            for i, t in enumerate(texts)
        )
    return dialog.id

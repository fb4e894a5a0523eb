"""Full-text search over messages and clients: Cyrillic-aware on both databases, filtered,
paged, and never showing a dialog the caller may not see."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from core.db import SessionMaker
from core.db.crm_schema import CrmContact
from core.db.schema import Dialog, Message
from tests.support.console_world import World, add_dialog, logged_in


async def test_cyrillic_search_ignores_case_and_finds_across_channels(
    hub: str, world: World
) -> None:
    admin = await logged_in(hub, "admin")
    status, body = await admin.call("GET", "/api/search?q=Привет")
    assert status == 200, body
    hits = body["hits"]
    # Newest first: the Sales (Telegram) dialog was seeded after the web chat one.
    assert [(h["dialog_id"], h["message_id"], h["channel_kind"]) for h in hits] == [
        (world.dialogs["petr"], world.messages["petr_hello"], "telegram"),
        (world.dialogs["olga"], world.messages["olga_hello"], "webchat"),
    ]
    assert hits[1]["snippet"] == "привет, где мой заказ?"
    assert hits[1]["client_name"] == "Анна Петрова"
    # A word's beginning finds it too, and client names are searched.
    status, body = await admin.call("GET", "/api/search?q=петров")
    assert body["hits"] == []
    assert [c["client_name"] for c in body["clients"]] == ["Анна Петрова"]
    assert body["clients"][0]["dialog_id"] == world.dialogs["olga"]
    await admin.close()


async def test_an_operator_finds_nothing_on_a_line_they_are_not_on(hub: str, world: World) -> None:
    olga = await logged_in(hub, "olga")
    _s, body = await olga.call("GET", "/api/search?q=привет")
    assert [h["dialog_id"] for h in body["hits"]] == [world.dialogs["olga"]]
    _s, body = await olga.call("GET", "/api/search?q=ivan")
    assert body == {"hits": [], "clients": [], "next_cursor": None}
    _s, body = await olga.call("GET", "/api/search?q=kettle")
    assert body["hits"] == []
    # The manager of Sales sees Sales, not the demo line.
    mara = await logged_in(hub, "mara")
    _s, body = await mara.call("GET", "/api/search?q=привет")
    assert [h["dialog_id"] for h in body["hits"]] == [world.dialogs["petr"]]
    await olga.close()
    await mara.close()


async def test_clients_are_found_by_phone_and_email(
    hub: str, world: World, db: SessionMaker
) -> None:
    async with db() as s, s.begin():
        ivan = await s.scalar(select(Dialog.client_id).where(Dialog.id == world.dialogs["petr"]))
        assert ivan is not None
        s.add_all(
            [
                CrmContact(client_id=ivan, kind="phone", value="+79991234567"),
                CrmContact(client_id=ivan, kind="email", value="ivan@example.com"),
            ]
        )
    admin, olga = await logged_in(hub, "admin"), await logged_in(hub, "olga")
    for q in ("+7 (999) 123-45", "IVAN@example", "999%20123"):
        _s, body = await admin.call("GET", "/api/search?q=" + q.replace("+", "%2B"))
        assert [c["dialog_id"] for c in body["clients"]] == [world.dialogs["petr"]], q
        _s, body = await olga.call("GET", "/api/search?q=" + q.replace("+", "%2B"))
        assert body["clients"] == [], q
    await admin.close()
    await olga.close()


async def test_filters_narrow_the_hits(hub: str, world: World, db: SessionMaker) -> None:
    admin = await logged_in(hub, "admin")

    async def dialogs(params: str) -> list[int]:
        status, body = await admin.call("GET", "/api/search?q=привет&" + params)
        assert status == 200, body
        return [h["dialog_id"] for h in body["hits"]]

    petr, olga = world.dialogs["petr"], world.dialogs["olga"]
    assert await dialogs(f"line={world.sales_line}") == [petr]
    assert await dialogs("channel=webchat") == [olga]
    assert await dialogs(f"operator={world.ids['olga']}") == [olga]
    assert await dialogs("status=closed") == [petr]
    # The days come from the stored messages: the world writes them an hour back, which is
    # yesterday for the first hour after midnight.
    async with db() as s:
        first, last = (
            await s.execute(
                select(func.min(Message.created_at), func.max(Message.created_at)).where(
                    Message.dialog_id.in_([petr, olga])
                )
            )
        ).one()
    day_before = first.date() - timedelta(days=1)
    assert await dialogs(f"from={day_before}&to={last.date()}") == [petr, olga]
    assert await dialogs(f"to={day_before}") == []
    for bad, name in (("status=gone", "status"), ("line=x", "line"), ("from=soon", "from")):
        status, body = await admin.call("GET", "/api/search?q=привет&" + bad)
        assert status == 400 and body["error"].startswith(name + ":")
    status, body = await admin.call("GET", "/api/search?q=%22*%28")
    assert status == 400 and body["error"].startswith("q:")
    await admin.close()


async def test_pages_follow_the_cursor_and_open_the_dialog_at_the_hit(
    hub: str, world: World, db: SessionMaker
) -> None:
    texts = [f"order number {i}" for i in range(25)]
    dialog, ids = await add_dialog(
        db, 1, world.demo_line, "Bulk", texts, operator_id=None, status="waiting"
    )
    admin = await logged_in(hub, "admin")
    seen: list[int] = []
    cursor = ""
    while True:
        _s, body = await admin.call("GET", f"/api/search?q=order&limit=10{cursor}")
        seen += [h["message_id"] for h in body["hits"]]
        if body["next_cursor"] is None:
            break
        cursor = "&cursor=" + body["next_cursor"]
    assert seen == ids[::-1]
    # The hit opens the dialog around the message found.
    status, body = await admin.call(
        "GET", f"/api/dialogs/{dialog}/messages?around={ids[12]}&limit=6"
    )
    assert status == 200, body
    assert [m["id"] for m in body["messages"]] == ids[9:15]
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog}/messages?before={ids[3]}")
    assert [m["id"] for m in body["messages"]] == ids[:3]
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog}/messages?after={ids[20]}")
    assert [m["id"] for m in body["messages"]] == ids[21:]
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog}/messages?limit=5")
    assert [m["id"] for m in body["messages"]] == ids[-5:]
    status, body = await admin.call(
        "GET", f"/api/dialogs/{dialog}/messages?around={ids[3]}&before={ids[4]}"
    )
    assert status == 400 and body["error"].startswith("around:")
    status, _ = await admin.call(
        "GET", f"/api/dialogs/{dialog}/messages?around={world.messages['olga_hello']}"
    )
    assert status == 404
    # Olga is on the demo line, and the dialog waits there: she finds it too; Petr does not.
    petr = await logged_in(hub, "petr")
    _s, body = await petr.call("GET", "/api/search?q=order")
    assert body["hits"] == []
    status, _ = await petr.call("GET", f"/api/dialogs/{dialog}/messages?around={ids[12]}")
    assert status == 404
    for client in (admin, petr):
        await client.close()


async def test_edited_and_deleted_messages_leave_the_index(
    hub: str, world: World, db: SessionMaker
) -> None:
    async with db() as s, s.begin():
        await s.execute(
            update(Message)
            .where(Message.id == world.messages["olga_hello"])
            .values(text="добрый день")
        )
        await s.execute(delete(Message).where(Message.id == world.messages["petr_hello"]))
    admin = await logged_in(hub, "admin")
    _s, body = await admin.call("GET", "/api/search?q=привет")
    assert body["hits"] == []
    _s, body = await admin.call("GET", "/api/search?q=ДОБРЫЙ")
    assert [h["message_id"] for h in body["hits"]] == [world.messages["olga_hello"]]
    await admin.close()

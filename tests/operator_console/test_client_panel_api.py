"""The client panel's API: contacts edited with validation that speaks in sentences, the
client's dialogs from every channel read back read-only, and the scope of both: an operator
reads and edits only the clients of dialogs they can see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.db import SessionMaker
from core.db.routing_schema import DialogParticipant
from core.envelope import utcnow
from crm_sink.completeness import BAD_EMAIL, BAD_PHONE
from tests.support.console_world import World, add_earlier_dialog, logged_in
from tests.support.hubclient import OperatorClient


async def _client_of(client: OperatorClient, dialog_id: int) -> dict[str, Any]:
    status, body = await client.call("GET", f"/api/crm/dialogs/{dialog_id}/client")
    assert status == 200, body
    found: dict[str, Any] = body["client"]
    return found


async def test_bad_contacts_get_a_sentence_for_their_field_and_good_ones_are_normalised(
    hub: str, world: World
) -> None:
    olga = await logged_in(hub, "olga")
    card = await _client_of(olga, world.dialogs["olga"])
    path = f"/api/crm/clients/{card['id']}"

    status, body = await olga.call("PATCH", path, {"add_phone": "12345"})
    assert (status, body) == (400, {"error": BAD_PHONE, "field": "phone"})
    status, body = await olga.call("PATCH", path, {"add_email": "anna@"})
    assert (status, body) == (400, {"error": BAD_EMAIL, "field": "email"})
    status, body = await olga.call("PATCH", path, {"add_phone": "+7" + "9" * 70})
    assert (status, body) == (400, {"error": "This is too long.", "field": "phone"})
    status, body = await olga.call("PATCH", path, {"name": 5})
    assert status == 400 and body["field"] == "name" and "name." not in body["error"]

    status, body = await olga.call(
        "PATCH", path, {"add_phone": "+7 (916) 123-45-67", "add_email": "Anna@Example.COM"}
    )
    assert status == 200, body
    assert [p["value"] for p in body["client"]["phones"]] == ["+79161234567"]
    assert [e["value"] for e in body["client"]["emails"]] == ["anna@example.com"]

    # Changing a phone is one request: the old number goes, the new one comes.
    status, body = await olga.call(
        "PATCH", path, {"remove_phone": "+79161234567", "add_phone": "+7 903 000-11-22"}
    )
    assert status == 200, body
    assert [p["value"] for p in body["client"]["phones"]] == ["+79030001122"]
    # A refused change keeps the old number.
    status, _ = await olga.call(
        "PATCH", path, {"remove_phone": "+79030001122", "add_phone": "not a phone"}
    )
    assert status == 400
    assert [p["value"] for p in (await _client_of(olga, world.dialogs["olga"]))["phones"]] == [
        "+79030001122"
    ]


async def test_earlier_dialogs_are_listed_across_channels_newest_first_and_read_only(
    hub: str, world: World, db: SessionMaker
) -> None:
    olga = await logged_in(hub, "olga")
    card = await _client_of(olga, world.dialogs["olga"])
    earlier = await add_earlier_dialog(
        db,
        card["id"],
        world.ids["sales_tg"],
        world.sales_line,
        ["Where is my order?"],
        utcnow() - timedelta(days=3),
        external_id="tg-anna",
        display_name="Anna P",
    )
    oldest = await add_earlier_dialog(
        db,
        card["id"],
        world.ids["sales_tg"],
        world.sales_line,
        ["first time here"],
        utcnow() - timedelta(days=9),
        external_id="tg-anna-2",
        display_name="Anna P",
    )

    status, body = await olga.call("GET", f"/api/crm/clients/{card['id']}/dialogs")
    assert status == 200, body
    listed = [(d["id"], d["channel_kind"], d["status"]) for d in body["dialogs"]]
    assert listed == [
        (world.dialogs["olga"], "webchat", "open"),
        (earlier, "telegram", "closed"),
        (oldest, "telegram", "closed"),
    ]
    assert body["dialogs"][1]["line_name"] == "Sales" and body["dialogs"][1]["messages"] == 1

    status, body = await olga.call("GET", f"/api/crm/clients/{card['id']}/dialogs/{earlier}")
    assert status == 200, body
    assert body["dialog"]["channel_kind"] == "telegram"
    assert [m["text"] for m in body["messages"]] == ["Where is my order?"]

    labels = [i["label"] for i in (await _client_of(olga, world.dialogs["olga"]))["identities"]]
    assert labels == ["Web chat", "Telegram Anna P", "Telegram Anna P"]


async def test_an_operator_cannot_read_or_edit_a_client_of_a_dialog_they_cannot_see(
    hub: str, world: World, db: SessionMaker
) -> None:
    olga, petr = await logged_in(hub, "olga"), await logged_in(hub, "petr")
    anna = (await _client_of(olga, world.dialogs["olga"]))["id"]
    ivan = (await _client_of(petr, world.dialogs["petr"]))["id"]
    # Anna once wrote to Sales and Mara answered her: that is not Petr's dialog to see.
    on_sales = await add_earlier_dialog(
        db,
        anna,
        world.ids["sales_tg"],
        world.sales_line,
        ["hello sales"],
        utcnow() - timedelta(days=2),
        external_id="tg-anna",
        display_name="Anna",
        operator_id=world.ids["mara"],
    )

    for stranger, client_id, dialog_id in (
        (olga, ivan, world.dialogs["petr"]),
        (petr, anna, on_sales),
    ):
        for method, path, edit in (
            ("GET", f"/api/crm/clients/{client_id}", None),
            ("PATCH", f"/api/crm/clients/{client_id}", {"add_phone": "+79161234567"}),
            ("PATCH", f"/api/crm/clients/{client_id}", {"add_phone": "bad"}),
            ("GET", f"/api/crm/clients/{client_id}/dialogs", None),
            ("GET", f"/api/crm/clients/{client_id}/dialogs/{dialog_id}", None),
        ):
            status, body = await stranger.call(method, path, edit)
            assert (status, body) == (404, {"error": "no such client"}), (method, path)
    # Nor can a visible client's path open someone else's dialog.
    status, _ = await olga.call("GET", f"/api/crm/clients/{anna}/dialogs/{world.dialogs['petr']}")
    assert status == 404
    status, body = await petr.call("GET", f"/api/crm/clients/{ivan}")
    assert status == 200 and body["client"]["phones"] == []

    # Invited into Olga's dialog, Petr sees Anna's card and may edit it, as his list shows it.
    async with db() as s, s.begin():
        s.add(DialogParticipant(dialog_id=world.dialogs["olga"], operator_id=world.ids["petr"]))
    status, body = await petr.call("PATCH", f"/api/crm/clients/{anna}", {"company": "Acme"})
    assert status == 200 and body["client"]["company"] == "Acme"
    status, body = await petr.call("GET", f"/api/crm/clients/{anna}/dialogs/{on_sales}")
    assert status == 200 and [m["text"] for m in body["messages"]] == ["hello sales"]

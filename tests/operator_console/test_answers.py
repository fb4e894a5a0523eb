"""Quick answers: personal and shared per line, who may see and change which, fuzzy search,
placeholders, and CSV import and export of a line's shared answers."""

from __future__ import annotations

from typing import Any

from core.db import SessionMaker
from tests.support.console_world import World, add_dialog, logged_in
from tests.support.hubclient import OperatorClient


async def _create(
    client: OperatorClient, title: str, text: str, line_id: int | None = None
) -> tuple[int, Any]:
    return await client.call(
        "POST", "/api/answers", {"title": title, "text": text, "line_id": line_id}
    )


async def _titles(client: OperatorClient, query: str = "") -> list[str]:
    status, body = await client.call("GET", "/api/answers" + query)
    assert status == 200, body
    return [a["title"] for a in body["answers"]]


async def test_personal_answers_are_their_owners_only(hub: str, world: World) -> None:
    olga, petr, admin = [await logged_in(hub, n) for n in ("olga", "petr", "admin")]
    status, body = await _create(olga, "Greeting", "Hello, {client_name}!")
    assert status == 201 and body["answer"]["scope"] == "personal"
    answer_id = body["answer"]["id"]
    assert await _titles(olga) == ["Greeting"]
    assert await _titles(petr) == []
    assert await _titles(admin) == []  # not even an admin reads someone's personal answers
    for client in (petr, admin):
        status, _ = await client.call("PATCH", f"/api/answers/{answer_id}", {"text": "mine"})
        assert status == 404
        status, _ = await client.call("DELETE", f"/api/answers/{answer_id}")
        assert status == 404
    status, body = await olga.call("PATCH", f"/api/answers/{answer_id}", {"text": "Hi there"})
    assert status == 200 and body["answer"]["text"] == "Hi there"
    status, body = await olga.call("PATCH", f"/api/answers/{answer_id}", {"title": "  "})
    assert status == 400 and body["error"].startswith("title:")
    assert (await olga.call("DELETE", f"/api/answers/{answer_id}"))[0] == 204
    assert await _titles(olga) == []
    for client in (olga, petr, admin):
        await client.close()


async def test_shared_answers_follow_lines_and_roles(hub: str, world: World) -> None:
    olga, petr, mara, admin = [await logged_in(hub, n) for n in ("olga", "petr", "mara", "admin")]
    sales, demo = world.sales_line, world.demo_line
    # Operators write no shared answers; a manager only on their own lines; an admin anywhere.
    status, body = await _create(petr, "Prices", "See the price list", sales)
    assert status == 403 and body["error"].startswith("line_id:")
    assert (await _create(mara, "Demo", "x", demo))[0] == 403
    status, body = await _create(mara, "Prices", "See the price list", sales)
    assert status == 201 and body["answer"]["scope"] == "shared"
    prices = body["answer"]["id"]
    assert (await _create(admin, "Welcome", "Welcome to {line}", demo))[0] == 201
    assert (await _create(admin, "Nowhere", "x", 999))[0] == 403

    assert await _titles(petr) == ["Prices"]
    assert await _titles(olga) == ["Welcome"]
    assert await _titles(admin) == ["Prices", "Welcome"]
    assert await _titles(admin, f"?line={sales}") == ["Prices"]
    _s, body = await petr.call("GET", "/api/answers")
    assert body["answers"][0]["editable"] is False
    # Petr reads the line's answer but may not change it; Olga cannot even see it.
    assert (await petr.call("PATCH", f"/api/answers/{prices}", {"text": "no"}))[0] == 403
    assert (await olga.call("DELETE", f"/api/answers/{prices}"))[0] == 404
    assert (await mara.call("PATCH", f"/api/answers/{prices}", {"text": "New list"}))[0] == 200
    assert (await admin.call("DELETE", f"/api/answers/{prices}"))[0] == 204
    for client in (olga, petr, mara, admin):
        await client.close()


async def test_fuzzy_search_finds_answers_by_a_sloppy_word(hub: str, world: World) -> None:
    olga = await logged_in(hub, "olga")
    for title, text in (
        ("Delivery times", "We deliver in 2–3 days"),
        ("Refunds", "Money back within 14 days"),
        ("Оплата картой", "Принимаем карты Visa и МИР"),
    ):
        assert (await _create(olga, title, text))[0] == 201
    assert (await _titles(olga, "?q=delivry"))[0] == "Delivery times"
    assert (await _titles(olga, "?q=ОПЛАТ")) == ["Оплата картой"]
    assert "Refunds" in await _titles(olga, "?q=money")
    assert await _titles(olga, "?q=zzzzqqq") == []
    await olga.close()


async def test_placeholders_render_for_a_dialog(hub: str, world: World, db: SessionMaker) -> None:
    olga = await logged_in(hub, "olga")
    _s, body = await _create(olga, "Hi", "Hello, {client_name}! I am {operator_name} of {line}.")
    answer = body["answer"]["id"]
    status, body = await olga.call("GET", f"/api/dialogs/{world.dialogs['olga']}/answers/{answer}")
    assert status == 200, body
    assert body["text"] == "Hello, Анна Петрова! I am Olga of Demo line."
    # A made-up visitor name is no name: the greeting closes up around it.
    dialog, _ = await add_dialog(
        db, 1, world.demo_line, "Visitor J3tCnX", ["hi"], operator_id=world.ids["olga"]
    )
    _s, body = await olga.call("GET", f"/api/dialogs/{dialog}/answers/{answer}")
    assert body["text"] == "Hello! I am Olga of Demo line."
    # Not for a dialog she cannot see.
    status, _ = await olga.call("GET", f"/api/dialogs/{world.dialogs['petr']}/answers/{answer}")
    assert status == 404
    await olga.close()


async def _upload(client: OperatorClient, line: int, csv_text: str) -> tuple[int, Any]:
    async with client.http.post(
        f"{client.base}/api/lines/{line}/answers.csv",
        data=csv_text.encode(),
        headers={"Content-Type": "text/csv"},
    ) as resp:
        return resp.status, await resp.json()


async def _download(client: OperatorClient, line: int) -> tuple[int, str]:
    async with client.http.get(f"{client.base}/api/lines/{line}/answers.csv") as resp:
        return resp.status, await resp.text()


async def test_csv_round_trip_of_a_lines_shared_answers(hub: str, world: World) -> None:
    mara, petr = await logged_in(hub, "mara"), await logged_in(hub, "petr")
    sales = world.sales_line
    source = (
        "title,text\r\n"
        'Prices,"See the list, ""Spring"" edition"\r\n'
        'Доставка,"Курьером,\nзавтра"\r\n'
    )
    assert await _upload(mara, sales, source) == (200, {"created": 2, "updated": 0})
    status, exported = await _download(mara, sales)
    assert status == 200
    assert (
        exported == 'title,text\r\nPrices,"See the list, ""Spring"" edition"\r\n'
        'Доставка,"Курьером,\nзавтра"\r\n'
    )
    # Importing the export again changes nothing; a changed text updates in place.
    assert await _upload(mara, sales, exported) == (200, {"created": 0, "updated": 0})
    assert await _upload(mara, sales, "title,text\nPrices,New\n") == (
        200,
        {"created": 0, "updated": 1},
    )
    assert await _titles(petr) == ["Prices", "Доставка"]
    # Operators and managers of other lines neither import nor export.
    assert (await _upload(petr, sales, source))[0] == 403
    assert (await _download(petr, sales))[0] == 403
    assert (await _download(mara, world.demo_line))[0] == 403
    for client in (mara, petr):
        await client.close()


async def test_a_bad_csv_row_is_refused_naming_row_and_field(hub: str, world: World) -> None:
    admin = await logged_in(hub, "admin")
    line = world.demo_line
    cases = [
        ("title,text\nA,one\n,two\n", 3, "title"),
        ("title,text\nA,one\nB,   \n", 3, "text"),
        ("title,text\nA,one\nB\n", 3, "row"),
        ("title,text\nA,one\na,two\n", 3, "title"),
        ("title,body\nA,one\n", 1, "body"),
        ("title,text\nA," + "x" * 20_001 + "\n", 2, "text"),
    ]
    for source, row, field in cases:
        status, body = await _upload(admin, line, source)
        assert status == 400, source
        assert (body["row"], body["field"]) == (row, field), body
        assert body["error"].startswith(f"row {row}: {field}:")
    # Nothing of a refused file was imported.
    assert await _titles(admin) == []
    await admin.close()


async def test_every_answers_search_and_parts_endpoint_needs_a_session(hub: str) -> None:
    import aiohttp

    endpoints = [
        ("GET", "/api/answers"),
        ("POST", "/api/answers"),
        ("PATCH", "/api/answers/1"),
        ("DELETE", "/api/answers/1"),
        ("GET", "/api/dialogs/1/answers/1"),
        ("GET", "/api/lines/1/answers.csv"),
        ("POST", "/api/lines/1/answers.csv"),
        ("GET", "/api/search?q=a"),
        ("GET", "/api/dialogs/1/messages?around=1"),
        ("GET", "/api/dialogs/1/parts?length=5"),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path in endpoints:
            async with http.request(method, hub + path) as resp:
                assert (resp.status, await resp.json()) == (401, {"error": "not logged in"}), path

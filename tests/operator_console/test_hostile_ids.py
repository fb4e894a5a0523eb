"""Ids past 64 bits and hostile bodies on every console route: 4xx naming what is wrong,
never a 500 (they used to reach the database driver and raise ``OverflowError``)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from hypothesis import strategies as st

from config.settings import Settings
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.fuzzing import (
    HUGE_IDS,
    JSON_VALUES,
    assert_no_tracebacks,
    examples,
    nested,
    objects_with,
)
from tests.support.hubclient import OperatorClient, VisitorClient

HOSTILE_PATH_IDS = [
    "9223372036854775808",
    "18446744073709551616",
    "٣",
    "²",
    "0",
    "1" * 40,
    "2147483648",
    "-2147483649",
    "9223372036854775807",
]
"""Past 64 bits, other scripts' digits, and past the 32-bit id columns of PostgreSQL."""
ROW_ID_EDGES = st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1])
"""At the edge of PostgreSQL's INTEGER id columns, where ``value out of int32 range`` came from."""
ID_FIELDS = [
    "id",
    "operator_id",
    "group_id",
    "line_id",
    "client_id",
    "other_id",
    "to_operator_id",
    "to_line_id",
    "colleague_id",
    "dialog_id",
]
BODIES = objects_with(
    {
        **{name: HUGE_IDS | ROW_ID_EDGES for name in ID_FIELDS},
        "operator_ids": st.lists(HUGE_IDS | ROW_ID_EDGES, max_size=3),
        "queue": st.lists(
            objects_with(
                {"operator_id": HUGE_IDS | ROW_ID_EDGES, "group_id": HUGE_IDS | ROW_ID_EDGES}
            ),
            max_size=2,
        ),
        "text": st.text(max_size=5),
        "settings": JSON_VALUES,
    }
)
NOT_FUZZED = ("/api/login", "/api/logout")


def routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path template) of every API route that takes an id in its path or a body."""
    found = []
    for route in build_app(settings).router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        api = path.startswith("/api/") and path not in NOT_FUZZED and route.method != "HEAD"
        if api and ("{" in path or route.method in ("POST", "PUT", "PATCH")):
            found.append((route.method, path))
    return sorted(set(found))


def fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


@pytest.fixture
async def admin(hub: str) -> Any:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    yield client
    await client.close()


async def status_of(admin: OperatorClient, method: str, path: str, body: Any) -> int:
    async with admin.http.request(method, f"{admin.base}{path}", json=body) as resp:
        await resp.read()
        return resp.status


async def test_ids_past_64_bits_in_paths_are_never_a_500(
    admin: OperatorClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    templated = [(m, p) for m, p in routes(settings) if "{" in p]
    assert len(templated) >= 25
    answers = {
        (m, fill(p, v)): await status_of(admin, m, fill(p, v), {})
        for m, p in templated
        for v in HOSTILE_PATH_IDS
    }
    assert {k: s for k, s in answers.items() if s >= 500} == {}
    assert_no_tracebacks(caplog)


async def test_fuzzed_bodies_with_ids_are_never_a_500(
    admin: OperatorClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    writes = [(m, p) for m, p in routes(settings) if m in ("POST", "PUT", "PATCH")]
    calls = examples(st.tuples(st.sampled_from(writes), BODIES), 100)
    answers = [
        (m, p, body, await status_of(admin, m, fill(p, "1"), body)) for (m, p), body in calls
    ]
    assert [a for a in answers if a[3] >= 500] == []
    assert_no_tracebacks(caplog)


async def test_reply_to_dialog_2_pow_63_is_a_404(admin: OperatorClient) -> None:
    status, body = await admin.call(
        "POST", f"/api/dialogs/{2**63}/messages", {"text": "hi", "client_msg_id": "c1"}
    )
    assert status == 404 and body["error"] == "no such dialog"


async def test_group_with_operator_id_2_pow_63_is_a_400_naming_it(
    admin: OperatorClient,
) -> None:
    status, group = await admin.call("POST", "/api/admin/groups", {"name": "Night"})
    assert status in (200, 201), group
    status, body = await admin.call(
        "PUT", f"/api/admin/groups/{group['group']['id']}/members", {"operator_ids": [2**63]}
    )
    assert status == 400 and body["error"].startswith("operator_ids.0"), body


async def test_search_cursor_past_64_bits_is_a_400(admin: OperatorClient) -> None:
    status, body = await admin.call("GET", f"/api/search?q=kettle&cursor={2**63}")
    assert status == 400 and body["error"].startswith("cursor"), body


async def test_deeply_nested_body_is_a_400(admin: OperatorClient) -> None:
    async with admin.http.post(
        f"{admin.base}/api/admin/groups",
        data=nested(100_000),
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("body: document nests deeper")


async def test_ids_past_32_bits_in_paths_and_bodies_are_never_a_500(
    admin: OperatorClient, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL the id columns are 32-bit: such ids reached the driver and raised."""
    for path in ("/api/crm/clients/2147483648", "/api/dialogs/2147483648/messages"):
        status, body = await admin.call("GET", path)
        assert status == 404, (path, body)
    status, body = await admin.call("GET", "/api/stats/dialogs?line_id=2147483648")
    assert status == 400 and body["error"].startswith("line_id:"), body
    status, body = await admin.call("POST", "/api/crm/merges", {"client_id": 1, "other_id": 2**31})
    assert status == 400 and body["error"].startswith("other_id:"), body
    assert_no_tracebacks(caplog)


async def test_transfer_to_an_unknown_line_or_operator_is_a_400_naming_it(
    admin: OperatorClient, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to be accepted (202) and dropped by the router with an error in the log."""
    visitor = VisitorClient(admin.base)
    try:
        await visitor.connect()
        await visitor.say("hello")
        async with asyncio.timeout(15):
            while (await admin.call("GET", "/api/dialogs/1"))[0] != 200:
                await asyncio.sleep(0.1)
    finally:
        await visitor.close()
    for body, field in [
        ({"to_line_id": 999_999}, "to_line_id"),
        ({"to_operator_id": 999_999}, "to_operator_id"),
    ]:
        status, answer = await admin.call("POST", "/api/dialogs/1/transfer", body)
        assert status == 400 and answer["error"].startswith(f"{field}: no such"), answer
    assert_no_tracebacks(caplog)

"""Reopening a closed dialog, through a whole hub: the console publishes ``cmd.reopen`` and the
router reopens the dialog with its operator while they are still on the line, else it waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import LineOperator, Operator
from operator_console.auth import hash_password
from router.distribution import OperatorState
from router.intents import Assign, Audit, Reopen, Wait
from router.lifecycle import decide_reopen
from router.snapshots import DialogSnapshot, LinePolicy
from tests.support.console_world import logged_in
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.routing_world import PASSWORD, configure, dialog_where, operator

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _state(operator_id: int, status: str = "offline") -> OperatorState:
    return OperatorState(operator_id, status, 3, 3, 3, 3, None, True)  # type: ignore[arg-type]


def _closed(operator_id: int | None) -> DialogSnapshot:
    return DialogSnapshot(7, 1, "closed", operator_id, NOW, answered=True)


def test_a_reopened_dialog_goes_back_to_its_operator_even_offline_and_full() -> None:
    line = LinePolicy(1, "evenly", (5, 6))
    intents = decide_reopen(_closed(5), line, [_state(5), _state(6, "online")], NOW, by=1)
    assert intents[0] == Reopen(7)
    assert Assign(7, 5) in intents
    assert [i.event for i in intents if isinstance(i, Audit)] == ["reopen", "assign"]


def test_a_dialog_whose_operator_left_the_line_waits_when_nobody_has_room() -> None:
    line = LinePolicy(1, "evenly", (6,))
    intents = decide_reopen(_closed(5), line, [_state(6, "online")], NOW, by=1)
    assert intents[0] == Reopen(7)
    assert not any(isinstance(i, Assign) for i in intents)
    assert Wait(7, "nobody_eligible") in intents


def test_an_open_dialog_is_not_reopened() -> None:
    line = LinePolicy(1, "evenly", (5,))
    snap = DialogSnapshot(7, 1, "open", 5, NOW)
    assert decide_reopen(snap, line, [_state(5)], NOW, by=1) == []


async def _add_manager(settings: Settings, login: str) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            s.add(
                Operator(
                    login=login,
                    name=login.title(),
                    role="manager",
                    password_hash=hash_password(PASSWORD),
                )
            )
    finally:
        await engine.dispose()


async def _leave_line(settings: Settings, operator_id: int) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(LineOperator).where(LineOperator.operator_id == operator_id))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_a_supervisor_reopens_a_closed_dialog_to_its_operator_or_the_queue(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "evenly", ["alice"])
    await _add_manager(settings, "mia")
    alice = await operator(hub, "alice")
    admin = await logged_in(hub, "admin")
    mia = OperatorClient(hub)
    await mia.login("mia", PASSWORD)
    try:
        await visitor.say("Where is my order?")
        dialog = await dialog_where(alice, status="open", operator_id=ids["alice"])
        path = f"/api/dialogs/{dialog['id']}/reopen"
        assert await admin.call("POST", path) == (409, {"error": "the dialog is not closed"})
        assert (await alice.call("POST", f"/api/dialogs/{dialog['id']}/close"))[0] == 202
        await dialog_where(alice, status="closed")

        # Neither an operator nor a manager of another line may reopen it.
        status, body = await alice.call("POST", path)
        assert status == 403 and "admins and the line's managers" in body["error"]
        assert (await mia.call("POST", path))[0] == 403
        assert (await admin.call("POST", "/api/dialogs/999999/reopen"))[0] == 404

        # The client wrote again: a new dialog holds them, so the old one stays closed.
        await visitor.say("One more thing")
        newer = await dialog_where(alice, status="open")
        assert newer["id"] != dialog["id"]
        assert await admin.call("POST", path) == (
            409,
            {"error": f"the client has an active dialog (#{newer['id']})"},
        )
        await alice.call("POST", f"/api/dialogs/{newer['id']}/close")
        await dialog_where(alice, status="closed", id=newer["id"])

        assert await admin.call("POST", path) == (202, {"dialog_id": dialog["id"]})
        reopened = await dialog_where(alice, status="open")
        assert reopened["operator_id"] == ids["alice"] and reopened["closed_at"] is None
        assert reopened["outcome"] is None
        _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        assert "Administrator reopened the dialog" in [m["text"] for m in body["messages"]]
        _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}/audit")
        assert [r["event"] for r in body["audit"]][-2:] == ["reopen", "assign"]

        # Alice has left the line: the dialog waits in the queue when reopened again.
        await alice.call("POST", f"/api/dialogs/{dialog['id']}/close")
        await dialog_where(alice, status="closed")
        await _leave_line(settings, ids["alice"])
        await admin.open_socket()
        assert (await admin.call("POST", path))[0] == 202
        waiting = await dialog_where(admin, id=dialog["id"])
        assert (waiting["status"], waiting["operator_id"]) == ("waiting", None)
    finally:
        for client in (alice, admin, mia):
            await client.close()

"""Returning clients on ``returning = "crm_responsible"`` lines: pure routing decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from router.decide import DialogSnapshot, LinePolicy, decide_open
from router.distribution import OperatorState
from router.intents import Assign, Audit

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = LinePolicy(line_id=1, mode="evenly", queue=(1, 2), returning="crm_responsible")


def state(operator_id: int, status: str = "online", held: int = 0) -> OperatorState:
    return OperatorState(operator_id, status, held, held, 1, None, None, True)  # type: ignore[arg-type]


def dialog(responsible: int | None) -> DialogSnapshot:
    return DialogSnapshot(1, 1, "waiting", None, NOW, crm_responsible=responsible)


def assigned(intents: Sequence[object]) -> tuple[int, str, str]:
    (assign,) = [i for i in intents if isinstance(i, Assign)]
    (audit,) = [i for i in intents if isinstance(i, Audit)]
    return assign.operator_id, audit.reason, audit.detail


def test_the_crm_responsible_gets_the_returning_client_when_free() -> None:
    intents = decide_open(dialog(2), POLICY, [state(1), state(2)], NOW)
    assert assigned(intents) == (2, "crm_responsible", "")


def test_a_busy_responsible_means_normal_distribution_and_the_audit_says_why() -> None:
    intents = decide_open(dialog(2), POLICY, [state(1), state(2, held=1)], NOW)
    assert assigned(intents) == (1, "new", "crm_responsible 2 passed over: at_capacity_line")


def test_an_offline_responsible_or_none_known_distributes_normally() -> None:
    assert assigned(decide_open(dialog(2), POLICY, [state(1), state(2, "offline")], NOW))[0] == 1
    assert assigned(decide_open(dialog(None), POLICY, [state(1), state(2)], NOW))[1] == "new"

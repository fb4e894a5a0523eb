"""Routing decisions on plain data with a frozen clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from config.schedule import check_schedule
from router.colleagues import decide_transfer_to_line, decide_transfer_to_operator
from router.decide import (
    DialogSnapshot,
    LinePolicy,
    Replies,
    decide_offer_timeout,
    decide_open,
    decide_skip,
    decide_take,
    decide_unavailable,
    route,
    route_waiting,
)
from router.distribution import OperatorState
from router.intents import (
    Assign,
    Audit,
    AutoReply,
    CancelTimer,
    Close,
    EndOffers,
    MarkHours,
    MoveToLine,
    Offer,
    SetTimer,
    Unassign,
    Wait,
)
from router.lifecycle import (
    RATING_PROMPTS,
    decide_client_message,
    decide_close,
    decide_no_answer,
    decide_operator_message,
    outcome,
    parse_rating,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def op(
    operator_id: int,
    status: str = "online",
    load: int = 0,
    cap: int | None = None,
    last: datetime | None = None,
) -> OperatorState:
    return OperatorState(operator_id, status, load, load, cap, None, last, True)  # type: ignore[arg-type]


def waiting(dialog_id: int = 1, **kw: object) -> DialogSnapshot:
    fields: dict[str, object] = {
        "line_id": 7,
        "status": "waiting",
        "operator_id": None,
        "opened_at": NOW,
    }
    fields.update(kw)
    return DialogSnapshot(dialog_id, **fields)  # type: ignore[arg-type]


def line(mode: str = "evenly", queue: tuple[int, ...] = (1, 2, 3), **kw: object) -> LinePolicy:
    return LinePolicy(7, mode, queue, **kw)  # type: ignore[arg-type]


def audits(intents: Sequence[object]) -> list[Audit]:
    return [i for i in intents if isinstance(i, Audit)]


def test_evenly_assigns_the_operator_idle_longest_and_audits_every_candidate() -> None:
    ops = [
        op(1, last=NOW - timedelta(minutes=1)),
        op(2, last=NOW - timedelta(hours=1)),
        op(3, "offline"),
    ]
    intents = route(waiting(), line(), ops, NOW)
    assert intents[0] == Assign(1, 2)
    (record,) = audits(intents)
    assert record.event == "assign" and record.mode == "evenly"
    assert {c.operator_id: c.passed_over for c in record.candidates} == {
        1: None,
        2: None,
        3: "offline",
    }


def test_sequence_offers_one_operator_with_a_timer_at_the_line_offer_time() -> None:
    intents = route(waiting(), line("sequence", offer_seconds=90), [op(1), op(2)], NOW)
    offer, timer = intents[0], intents[1]
    assert offer == Offer(1, (1,), True, 1, NOW + timedelta(seconds=90))
    assert isinstance(timer, SetTimer) and timer.key == "offer:1"
    assert dict(timer.payload) == {"dialog_id": 1, "round": 1, "operator_id": 1}


def test_sequence_timeout_moves_the_offer_to_the_next_and_wraps_to_the_first() -> None:
    policy = line("sequence")
    ops = [op(1), op(2), op(3, load=1)]  # the exclusive offer counts as 3's load
    dialog = waiting(offered_to=(3,), offer_exclusive=True, offer_round=4, last_offered=3)
    intents = decide_offer_timeout(dialog, policy, ops, 3, 4, NOW)
    assert intents[0] == EndOffers(1, "timed_out", (3,))
    assert audits(intents)[0].event == "timeout"
    offer = next(i for i in intents if isinstance(i, Offer))
    assert offer.operator_ids == (1,) and offer.round == 5


def test_a_stale_offer_timer_does_nothing() -> None:
    dialog = waiting(offered_to=(2,), offer_exclusive=True, offer_round=5)
    assert decide_offer_timeout(dialog, line("sequence"), [op(1), op(2)], 1, 4, NOW) == []
    taken = waiting(status="open", operator_id=2, offer_round=5)
    assert decide_offer_timeout(taken, line("sequence"), [op(1), op(2)], 2, 5, NOW) == []


def test_all_at_once_offers_every_eligible_operator_and_the_first_take_wins() -> None:
    ops = [op(1), op(2, cap=1, load=1), op(3)]
    intents = route(waiting(), line("all"), ops, NOW)
    assert intents[0] == Offer(1, (1, 3), False, 1, None)
    dialog = waiting(offered_to=(1, 3), offer_round=1)
    took = decide_take(dialog, line("all"), ops, 3, NOW)
    assert EndOffers(1, "taken", (3,)) in took and EndOffers(1, "withdrawn", (1,)) in took
    assert Assign(1, 3) in took
    late = decide_take(waiting(status="open", operator_id=3), line("all"), ops, 1, NOW)
    assert [a.reason for a in audits(late)] == ["already_taken"]


def test_take_is_refused_at_capacity_but_an_exclusive_offer_does_not_count_twice() -> None:
    full = [op(1, cap=1, load=1)]
    assert audits(decide_take(waiting(), line(queue=(1,)), full, 1, NOW))[0].reason == (
        "at_capacity_line"
    )
    mine = waiting(offered_to=(1,), offer_exclusive=True)
    assert Assign(1, 1) in decide_take(mine, line("sequence", queue=(1,)), full, 1, NOW)


def test_an_away_operator_may_take_a_dialog_but_not_past_their_limits() -> None:
    # Presence is judged before load for the audit, so "away" once hid a full operator's
    # limit and let them take a second dialog on a line that allows one.
    free, full_line = op(1, "away"), op(1, "away", cap=1, load=1)
    full_total = OperatorState(1, "away", 0, 2, None, 2, None, True)
    assert Assign(1, 1) in decide_take(waiting(), line(queue=(1,)), [free], 1, NOW)
    for state, reason in ((full_line, "at_capacity_line"), (full_total, "at_capacity_total")):
        refused = decide_take(waiting(), line(queue=(1,)), [state], 1, NOW)
        assert [(a.event, a.reason) for a in audits(refused)] == [("reject", reason)]
        assert len(refused) == 1  # nothing but the refusal: no Assign


def test_a_transfer_to_an_away_operator_respects_their_limit() -> None:
    held = waiting(status="open", operator_id=2)
    ops = [op(1, "away", cap=1, load=1), op(2)]
    refused = decide_transfer_to_operator(held, line(queue=(1, 2)), ops, 1, NOW)
    assert [(a.event, a.reason) for a in audits(refused)] == [("reject", "at_capacity_line")]
    assert len(refused) == 1
    roomy = [op(1, "away", cap=2, load=1), op(2)]
    assert Assign(1, 1) in decide_transfer_to_operator(held, line(queue=(1, 2)), roomy, 1, NOW)


def test_capacity_and_presence_leave_a_dialog_waiting_with_reasons() -> None:
    ops = [op(1, "away"), op(2, cap=2, load=2), op(3, "offline")]
    intents = route(waiting(), line(), ops, NOW)
    assert intents[0] == Wait(1, "nobody_eligible")
    assert [c.passed_over for c in audits(intents)[0].candidates] == [
        "away",
        "at_capacity_line",
        "offline",
    ]


def test_skip_passes_the_offer_on_and_never_back_to_the_skipper() -> None:
    dialog = waiting(offered_to=(1,), offer_exclusive=True, offer_round=1, last_offered=1)
    intents = decide_skip(dialog, line("sequence", queue=(1, 2)), [op(1, load=1), op(2)], 1, NOW)
    assert intents[0] == EndOffers(1, "skipped", (1,))
    assert next(i for i in intents if isinstance(i, Offer)).operator_ids == (2,)
    alone = decide_skip(dialog, line("sequence", queue=(1,)), [op(1, load=1)], 1, NOW)
    assert Wait(1, "nobody_eligible") in alone


def test_skip_of_an_assigned_unanswered_dialog_returns_it_to_the_queue() -> None:
    dialog = waiting(status="open", operator_id=1)
    intents = decide_skip(dialog, line(), [op(1, load=1), op(2)], 1, NOW)
    assert intents[0] == Unassign(1) and Assign(1, 2) in intents
    answered = waiting(status="open", operator_id=1, answered=True)
    assert audits(decide_skip(answered, line(), [op(1)], 1, NOW))[0].event == "reject"


def test_going_offline_hands_pending_offers_on() -> None:
    dialogs = [
        waiting(1, offered_to=(1,), offer_exclusive=True, offer_round=1),
        waiting(2, offered_to=(2,), offer_exclusive=True, offer_round=1),
    ]
    ops = [op(1, "offline", load=1), op(2, load=1), op(3)]
    intents = decide_unavailable(dialogs, line("sequence"), ops, 1, "offline", NOW)
    assert intents[0] == EndOffers(1, "withdrawn", (1,))
    offers = [i for i in intents if isinstance(i, Offer)]
    assert [(o.dialog_id, o.operator_ids) for o in offers] == [(1, (2,))]


def test_waiting_dialogs_go_out_oldest_first_within_capacity() -> None:
    old = waiting(1, opened_at=NOW - timedelta(minutes=5), wait_reason="nobody_eligible")
    new = waiting(2, opened_at=NOW - timedelta(minutes=1), wait_reason="nobody_eligible")
    intents = route_waiting([new, old], line(queue=(1,)), [op(1, cap=1)], NOW, "operator_online")
    assert [i for i in intents if isinstance(i, Assign)] == [Assign(1, 1)]
    # The second one still waits for the same reason, so nothing is written for it.
    assert not any(getattr(i, "dialog_id", 0) == 2 for i in intents)


def test_returning_client_goes_back_to_their_last_operator() -> None:
    policy = line(returning="last_operator")
    intents = route(waiting(previous_operator=3), policy, [op(1), op(2), op(3)], NOW)
    assert intents[0] == Assign(1, 3) and audits(intents)[0].reason == "returning_client"
    busy = route(waiting(previous_operator=3), policy, [op(1), op(3, cap=1, load=1)], NOW)
    assert busy[0] == Assign(1, 1)


BERLIN = check_schedule(
    {
        "timezone": "Europe/Berlin",
        "week": {"mon": ["09:00-13:00", "14:00-18:00"], "sun": ["22:00-02:00"]},
        "holidays": ["2026-03-09", "2026-12-24..2026-12-26"],
    }
)


def hours_line(**kw: Any) -> LinePolicy:
    replies = Replies(greeting="Hi!", out_of_hours="We are closed.")
    return line(schedule=BERLIN, replies=replies, **kw)


def test_out_of_hours_dialog_waits_for_the_next_opening_with_the_out_of_hours_reply() -> None:
    lunch = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # 13:30 in Berlin (CET)
    intents = decide_open(waiting(), hours_line(), [op(1)], lunch)
    assert intents[0] == MarkHours(1, False)
    assert AutoReply(1, "out_of_hours", "We are closed.") in intents
    assert Wait(1, "out_of_hours") in intents
    timer = next(i for i in intents if isinstance(i, SetTimer))
    assert timer.key == "opening:7" and timer.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def test_out_of_hours_route_setting_still_goes_to_operators() -> None:
    night = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    intents = decide_open(waiting(), hours_line(out_of_hours="route"), [op(1)], night)
    assert MarkHours(1, False) in intents and Assign(1, 1) in intents


def test_working_hours_greeting_and_dst_and_holidays() -> None:
    intents = decide_open(waiting(), hours_line(), [op(1)], NOW)  # 11:00 CET
    assert intents[:2] == [MarkHours(1, True), AutoReply(1, "greeting", "Hi!")]
    # 2026-03-30 is the first Monday after the switch to CEST: 09:00 local is 07:00 UTC.
    assert decide_open(waiting(), hours_line(), [op(1)], datetime(2026, 3, 30, 7, 0, tzinfo=UTC))[
        0
    ] == MarkHours(1, True)
    assert decide_open(waiting(), hours_line(), [op(1)], datetime(2026, 3, 30, 6, 59, tzinfo=UTC))[
        0
    ] == MarkHours(1, False)
    # A Monday holiday is closed all day; the Sunday night shift runs past midnight.
    holiday = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert decide_open(waiting(), hours_line(), [op(1)], holiday)[0] == MarkHours(1, False)
    after_midnight = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # Monday 01:30 CET
    assert decide_open(waiting(), hours_line(), [op(1)], after_midnight)[0] == MarkHours(1, True)


def test_no_answer_timer_sends_the_text_and_requeues_per_the_line() -> None:
    policy = line(
        no_answer_seconds=30,
        no_answer_action="requeue",
        replies=Replies(no_answer="Still looking for someone"),
    )
    opened = decide_open(waiting(), policy, [op(1)], NOW)
    timer = next(i for i in opened if isinstance(i, SetTimer))
    assert timer.key == "noanswer:1" and timer.due_at == NOW + timedelta(seconds=30)
    held = waiting(status="open", operator_id=1)
    intents = decide_no_answer(held, policy, [op(1, load=1), op(2)], NOW)
    assert intents[0] == AutoReply(1, "no_answer", "Still looking for someone")
    assert Unassign(1) in intents and Assign(1, 2) in intents
    assert decide_no_answer(waiting(answered=True), policy, [op(1)], NOW) == []


def test_auto_close_timer_follows_operator_answers_and_client_silence() -> None:
    policy = line(auto_close_minutes=15)
    dialog = waiting(status="open", operator_id=1, answered=True)
    set_ = decide_operator_message(dialog.dialog_id, policy, NOW)
    assert SetTimer("autoclose:1", NOW + timedelta(minutes=15), (("dialog_id", 1),)) in set_
    assert decide_client_message(dialog, policy) == [CancelTimer("autoclose:1")]


def test_close_records_the_outcome_and_asks_for_a_rating() -> None:
    policy = line(rating="stars", replies=Replies(close="Thanks!"))
    answered = waiting(status="open", operator_id=1, answered=True)
    intents = decide_close(answered, policy, "operator")
    reply = next(i for i in intents if isinstance(i, AutoReply))
    assert reply.text.startswith("Thanks!") and "1 to 5" in reply.text
    assert Close(1, "operator", "answered", True) in intents
    assert outcome(waiting(), "client") == "client_left"
    assert outcome(waiting(began_in_hours=False), "auto") == "out_of_hours"
    assert outcome(waiting(began_in_hours=True), "operator") == "missed"
    assert not any(isinstance(i, AutoReply) for i in decide_close(answered, policy, "client"))


def test_a_channel_with_rating_controls_gets_no_reply_with_a_number_text() -> None:
    answered = waiting(status="open", operator_id=1, answered=True)
    plain = decide_close(answered, line(rating="stars"), "operator", rating_controls=True)
    assert not any(isinstance(i, AutoReply) for i in plain)
    assert Close(1, "operator", "answered", True) in plain
    policy = line(rating="like", replies=Replies(close="Thanks!"))
    closing = decide_close(answered, policy, "operator", rating_controls=True)
    assert [i.text for i in closing if isinstance(i, AutoReply)] == ["Thanks!"]
    texted = decide_close(answered, line(rating="stars"), "operator")
    assert [i.text for i in texted if isinstance(i, AutoReply)] == [RATING_PROMPTS["stars"]]


def test_ratings_parse_per_line_kind() -> None:
    assert parse_rating(" 4 ", "stars") == 4 and parse_rating("6", "stars") is None
    assert parse_rating("👍", "like") == 5 and parse_rating("Dislike!", "like") == 1
    assert parse_rating("thanks", "like") is None and parse_rating("5", "none") is None


def test_transfer_to_operator_keeps_capacity_rules_unless_a_supervisor_takes_over() -> None:
    held = waiting(status="open", operator_id=1)
    ops = [op(1, load=1), op(2, cap=1, load=1), op(3)]
    assert Assign(1, 3) in decide_transfer_to_operator(held, line(), ops, 3, NOW, comment="VIP")
    refused = decide_transfer_to_operator(held, line(), ops, 2, NOW)
    assert audits(refused)[0].reason == "at_capacity_line"
    over = decide_transfer_to_operator(held, line(), ops, 9, NOW, takeover=True)
    assert Assign(1, 9) in over and audits(over)[0].reason == "takeover"


def test_transfer_to_line_routes_by_the_target_lines_rules() -> None:
    held = waiting(status="open", operator_id=1, skipped_by=frozenset({5}))
    target = LinePolicy(8, "sequence", (5, 6))
    intents = decide_transfer_to_line(held, target, [op(5), op(6)], NOW, "billing question")
    assert Unassign(1) in intents and MoveToLine(1, 8) in intents
    offer = next(i for i in intents if isinstance(i, Offer))
    assert offer.operator_ids == (5,)  # skips on the old line do not follow the dialog


def test_nobody_online_in_hours_gets_the_out_of_hours_reply_when_the_line_says_so() -> None:
    away = [op(1, status="away"), op(2, status="offline")]
    unattended = decide_open(waiting(), hours_line(out_of_hours_when_offline=True), away, NOW)
    assert unattended[:2] == [MarkHours(1, True), AutoReply(1, "out_of_hours", "We are closed.")]
    assert not any(isinstance(i, AutoReply) and i.kind == "greeting" for i in unattended)
    # By default, and whenever someone of the queue is online, an open line greets.
    default = decide_open(waiting(), hours_line(), away, NOW)
    staffed = decide_open(waiting(), hours_line(out_of_hours_when_offline=True), [op(1)], NOW)
    for intents in (default, staffed):
        assert intents[:2] == [MarkHours(1, True), AutoReply(1, "greeting", "Hi!")]

"""Who gets a dialog: eligibility, the three modes, and the decision record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.distribution import (
    Candidate,
    LineRouting,
    Mode,
    OperatorState,
    Status,
    all_at_once,
    choose_evenly,
    decide_assignment,
    eligibility,
    next_in_sequence,
)

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def operator(
    operator_id: int,
    status: Status = "online",
    *,
    on_line_open: int = 0,
    total_open: int = 0,
    max_on_line: int | None = None,
    max_total: int | None = None,
    idle_minutes: int | None = None,
    on_line: bool = True,
) -> OperatorState:
    return OperatorState(
        operator_id=operator_id,
        status=status,
        open_dialogs_on_line=on_line_open,
        open_dialogs_total=total_open,
        max_on_line=max_on_line,
        max_total=max_total,
        last_assigned_at=None if idle_minutes is None else NOW - timedelta(minutes=idle_minutes),
        on_line=on_line,
    )


def line(
    mode: Mode = "evenly", queue: tuple[int, ...] = (1, 2, 3), no_answer: int = 60
) -> LineRouting:
    return LineRouting(line_id=7, mode=mode, queue=queue, no_answer_seconds=no_answer)


def reasons(candidates: list[Candidate]) -> dict[int, str | None]:
    return {candidate.operator_id: candidate.passed_over for candidate in candidates}


# --- eligibility ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (operator(1), None),
        (operator(1, "offline"), "offline"),
        (operator(1, "away"), "away"),
        (operator(1, on_line=False), "not_on_line"),
        (operator(1, on_line_open=3, max_on_line=3), "at_capacity_line"),
        (operator(1, on_line_open=2, max_on_line=3), None),
        (operator(1, max_on_line=0), "at_capacity_line"),
        (operator(1, total_open=5, max_total=5), "at_capacity_total"),
        (operator(1, on_line_open=9, total_open=9), None),  # no limits set
    ],
)
def test_eligibility_gives_the_reason_an_operator_is_passed_over(
    state: OperatorState, reason: str | None
) -> None:
    assert reasons(eligibility(line(queue=(1,)), [state], NOW)) == {1: reason}


def test_presence_is_reported_before_load() -> None:
    busy_and_away = operator(1, "away", on_line_open=5, max_on_line=5)
    gone = operator(2, "offline", on_line=False)
    assert reasons(eligibility(line(queue=(1, 2)), [busy_and_away, gone], NOW)) == {
        1: "away",
        2: "not_on_line",
    }


def test_excluded_operators_were_already_offered() -> None:
    candidates = eligibility(line(), [operator(1), operator(2), operator(3)], NOW, excluded={2})
    assert reasons(candidates) == {1: None, 2: "already_offered", 3: None}


def test_candidates_follow_the_queue_then_strangers() -> None:
    snapshot = [operator(9), operator(1), operator(3)]
    candidates = eligibility(line(queue=(3, 2, 1)), snapshot, NOW)
    assert [(c.operator_id, c.passed_over) for c in candidates] == [
        (3, None),
        (2, "offline"),  # in the queue, but no presence known
        (1, None),
        (9, "not_on_line"),  # online, but not in this line's queue
    ]


def test_candidates_record_how_long_each_has_waited() -> None:
    candidates = eligibility(line(queue=(1, 2)), [operator(1, idle_minutes=15), operator(2)], NOW)
    assert [c.idle_for for c in candidates] == [timedelta(minutes=15), None]


def test_eligibility_refuses_bad_snapshots() -> None:
    with pytest.raises(ValueError, match="twice"):
        eligibility(line(), [operator(1), operator(1)], NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        eligibility(line(), [operator(1)], datetime(2026, 6, 10, 12))


# --- evenly ---------------------------------------------------------------------------------


def test_evenly_prefers_who_never_had_a_dialog() -> None:
    snapshot = [operator(1, idle_minutes=600), operator(2), operator(3, idle_minutes=5)]
    assert choose_evenly(eligibility(line(), snapshot, NOW)) == 2


def test_evenly_prefers_who_waited_longest() -> None:
    snapshot = [
        operator(1, idle_minutes=10),
        operator(2, idle_minutes=30),
        operator(3, idle_minutes=20),
    ]
    assert choose_evenly(eligibility(line(), snapshot, NOW)) == 2


def test_evenly_breaks_ties_by_queue_order_not_by_id() -> None:
    snapshot = [
        operator(1, idle_minutes=30),
        operator(2, idle_minutes=30),
        operator(3, idle_minutes=30),
    ]
    assert choose_evenly(eligibility(line(queue=(3, 1, 2)), snapshot, NOW)) == 3
    never = [operator(1), operator(2), operator(3)]
    assert choose_evenly(eligibility(line(queue=(2, 3, 1)), never, NOW)) == 2


def test_evenly_skips_who_cannot_take_it_however_long_they_waited() -> None:
    snapshot = [
        operator(1, "away"),
        operator(2, idle_minutes=1, max_on_line=1, on_line_open=1),
        operator(3, idle_minutes=1),
    ]
    assert choose_evenly(eligibility(line(), snapshot, NOW)) == 3
    assert choose_evenly(eligibility(line(), snapshot[:2], NOW)) is None


# --- sequence -------------------------------------------------------------------------------

FOUR = [operator(1), operator(2), operator(3), operator(4)]


def offer_after(
    last: int | None, snapshot: list[OperatorState] = FOUR, queue: tuple[int, ...] = (1, 2, 3, 4)
) -> int | None:
    return next_in_sequence(eligibility(line("sequence", queue), snapshot, NOW), last)


def test_sequence_starts_at_the_head_of_the_queue() -> None:
    assert offer_after(None) == 1
    assert offer_after(None, queue=(3, 1, 4, 2)) == 3


def test_sequence_offers_the_next_in_queue_and_wraps_around() -> None:
    assert offer_after(1) == 2
    assert offer_after(3) == 4
    assert offer_after(4) == 1
    assert offer_after(2, queue=(3, 1, 4, 2)) == 3


def test_sequence_skips_who_cannot_take_it() -> None:
    snapshot = [operator(1), operator(2, "away"), operator(3, "offline"), operator(4)]
    assert offer_after(1, snapshot) == 4
    assert offer_after(4, snapshot) == 1


def test_sequence_keeps_its_place_when_the_last_offered_went_away() -> None:
    snapshot = [operator(1), operator(2, "offline"), operator(3), operator(4)]
    assert offer_after(2, snapshot) == 3


def test_sequence_restarts_at_the_head_when_the_last_offered_left_the_queue() -> None:
    assert offer_after(99) == 1


def test_sequence_offers_a_lone_operator_again() -> None:
    assert offer_after(1, [operator(1)], queue=(1,)) == 1


def test_sequence_with_nobody_eligible_offers_nobody() -> None:
    assert offer_after(1, [operator(1, "away"), operator(2, "offline")]) is None


# --- all at once ----------------------------------------------------------------------------


def test_all_at_once_offers_every_eligible_in_queue_order() -> None:
    snapshot = [operator(1), operator(2, "away"), operator(3), operator(4)]
    assert all_at_once(eligibility(line("all", (4, 3, 2, 1)), snapshot, NOW)) == (4, 3, 1)


# --- the decision ---------------------------------------------------------------------------


def test_decision_records_choice_candidates_and_answer_deadline() -> None:
    snapshot = [operator(1, "away"), operator(2, idle_minutes=5), operator(3, idle_minutes=50)]
    decision = decide_assignment(line("evenly", no_answer=120), snapshot, NOW)
    assert decision.chosen == (3,)
    assert decision.mode == "evenly"
    assert decision.line_id == 7
    assert decision.decided_at == NOW
    assert decision.answer_by == NOW + timedelta(seconds=120)
    assert [(c.operator_id, c.passed_over) for c in decision.candidates] == [
        (1, "away"),
        (2, None),
        (3, None),
    ]


def test_nobody_eligible_leaves_the_dialog_waiting_in_the_queue() -> None:
    for mode in ("evenly", "sequence", "all"):
        decision = decide_assignment(line(mode), [operator(1, "offline"), operator(2, "away")], NOW)
        assert decision.chosen is None
        assert decision.answer_by is None
        assert len(decision.candidates) == 3


def test_no_answer_passes_the_dialog_to_the_next_not_yet_offered() -> None:
    # Operator 1 timed out; 2 and 3 were offered before and declined.
    snapshot = [operator(1), operator(2), operator(3), operator(4)]
    decision = decide_assignment(
        line("sequence", (1, 2, 3, 4)), snapshot, NOW, last_offered=1, excluded={1, 2, 3}
    )
    assert decision.chosen == (4,)
    assert decision.last_offered == 1
    again = decide_assignment(
        line("sequence", (1, 2, 3, 4)), snapshot, NOW, last_offered=4, excluded={1, 2, 3, 4}
    )
    assert again.chosen is None


def test_all_mode_offers_everyone_eligible() -> None:
    decision = decide_assignment(line("all"), [operator(1), operator(2), operator(3, "away")], NOW)
    assert decision.chosen == (1, 2)


@pytest.mark.parametrize("seconds", [59, 43201])
def test_no_answer_time_is_bounded(seconds: int) -> None:
    with pytest.raises(ValueError, match="no_answer_seconds"):
        line(no_answer=seconds)


def test_line_and_operator_data_check_themselves() -> None:
    line(no_answer=60)
    line(no_answer=43200)
    with pytest.raises(ValueError, match="twice"):
        line(queue=(1, 2, 1))
    with pytest.raises(ValueError, match="mode"):
        line("round_robin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        operator(1, "busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        operator(1, on_line_open=-1)
    with pytest.raises(ValueError, match="max_total"):
        operator(1, max_total=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(operator(1), last_assigned_at=datetime(2026, 6, 10))


# --- properties -----------------------------------------------------------------------------

operator_ids = st.integers(1, 12)
STATUSES: tuple[Status, ...] = ("online", "away", "offline")
MODES: tuple[Mode, ...] = ("evenly", "sequence", "all")


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[LineRouting, list[OperatorState]]:
    ids = draw(st.lists(operator_ids, min_size=1, max_size=8, unique=True))
    queue = tuple(draw(st.permutations(ids))[: draw(st.integers(0, len(ids)))])
    limits = st.none() | st.integers(0, 4)
    states = [
        OperatorState(
            operator_id=operator_id,
            status=draw(st.sampled_from(STATUSES)),
            open_dialogs_on_line=draw(st.integers(0, 5)),
            open_dialogs_total=draw(st.integers(0, 8)),
            max_on_line=draw(limits),
            max_total=draw(limits),
            last_assigned_at=draw(
                st.none() | st.integers(0, 10_000).map(lambda s: NOW - timedelta(seconds=s))
            ),
            on_line=draw(st.booleans()),
        )
        for operator_id in ids
        if draw(st.integers(0, 9))  # now and then a queue member has no known presence
    ]
    mode = draw(st.sampled_from(MODES))
    return LineRouting(line_id=1, mode=mode, queue=queue, no_answer_seconds=60), states


@settings(max_examples=300)
@given(snapshots(), st.none() | operator_ids, st.frozensets(operator_ids, max_size=4))
def test_a_chosen_operator_can_always_take_the_dialog(
    case: tuple[LineRouting, list[OperatorState]],
    last_offered: int | None,
    excluded: frozenset[int],
) -> None:
    routing, states = case
    decision = decide_assignment(routing, states, NOW, last_offered, excluded)
    by_id = {state.operator_id: state for state in states}
    eligible = [c.operator_id for c in decision.candidates if c.passed_over is None]
    assert (decision.chosen is None) == (not eligible)
    for chosen in decision.chosen or ():
        state = by_id[chosen]
        assert state.status == "online"
        assert state.on_line and chosen in routing.queue
        assert state.max_on_line is None or state.open_dialogs_on_line + 1 <= state.max_on_line
        assert state.max_total is None or state.open_dialogs_total + 1 <= state.max_total
        assert chosen not in excluded
    if routing.mode == "all" and eligible:
        assert decision.chosen == tuple(eligible)
    elif decision.chosen is not None:
        assert len(decision.chosen) == 1


@st.composite
def staffed_lines(draw: st.DrawFn) -> tuple[LineRouting, list[OperatorState], list[int]]:
    """A queue whose eligible operators share one capacity, plus some who never qualify."""
    ids = draw(st.lists(operator_ids, min_size=1, max_size=10, unique=True))
    queue = tuple(draw(st.permutations(ids)))
    capacity = draw(st.none() | st.integers(20, 40))
    states, eligible = [], []
    for operator_id in queue:
        status = draw(st.sampled_from(("online", *STATUSES)))  # mostly online
        waited = draw(st.none() | st.integers(0, 3600))
        states.append(
            OperatorState(
                operator_id=operator_id,
                status=status,
                open_dialogs_on_line=0,
                open_dialogs_total=0,
                max_on_line=capacity,
                max_total=capacity,
                last_assigned_at=None if waited is None else NOW - timedelta(seconds=waited),
                on_line=True,
            )
        )
        if status == "online":
            eligible.append(operator_id)
    return (
        LineRouting(line_id=1, mode="evenly", queue=queue, no_answer_seconds=60),
        states,
        eligible,
    )


def assign(state: OperatorState, at: datetime) -> OperatorState:
    return replace(
        state,
        open_dialogs_on_line=state.open_dialogs_on_line + 1,
        open_dialogs_total=state.open_dialogs_total + 1,
        last_assigned_at=at,
    )


@settings(max_examples=200)
@given(staffed_lines(), st.lists(st.integers(1, 600), min_size=1, max_size=20))
def test_evenly_starves_nobody(
    case: tuple[LineRouting, list[OperatorState], list[int]], gaps: list[int]
) -> None:
    routing, states, eligible = case
    now, given_to = NOW, []
    for gap in gaps:
        now += timedelta(seconds=gap)
        decision = decide_assignment(routing, states, now)
        if not eligible:
            assert decision.chosen is None
            continue
        assert decision.chosen is not None
        (chosen,) = decision.chosen
        given_to.append(chosen)
        states = [assign(s, now) if s.operator_id == chosen else s for s in states]
    window = len(eligible)
    for start in range(len(given_to) - window + 1):
        assert set(given_to[start : start + window]) == set(eligible)


@settings(max_examples=200)
@given(staffed_lines(), st.data())
def test_sequence_follows_the_queue_and_reaches_everyone_before_repeating(
    case: tuple[LineRouting, list[OperatorState], list[int]], data: st.DataObject
) -> None:
    routing, states, eligible = case
    routing = replace(routing, mode="sequence")
    last = data.draw(st.none() | st.sampled_from(routing.queue))
    after = -1 if last is None else routing.queue.index(last)
    later = [o for o in eligible if routing.queue.index(o) > after]
    offers = []
    for _ in range(2 * len(eligible) + 1):
        decision = decide_assignment(routing, states, NOW, last_offered=last)
        if decision.chosen is None:
            break
        (last,) = decision.chosen
        offers.append(last)
    if not eligible:
        assert offers == []
        return
    # The first offer goes to the first eligible after `last` in queue order, wrapping.
    assert offers[0] == (later or eligible)[0]
    start = eligible.index(offers[0])
    cycle = eligible[start:] + eligible[:start]
    assert offers == (cycle * 3)[: len(offers)]
    assert len(offers) == 2 * len(eligible) + 1


@settings(max_examples=200)
@given(staffed_lines())
def test_sequence_for_one_dialog_offers_each_eligible_once_then_waits(
    case: tuple[LineRouting, list[OperatorState], list[int]],
) -> None:
    routing, states, eligible = case
    routing = replace(routing, mode="sequence")
    offered: list[int] = []
    last: int | None = None
    while (decision := decide_assignment(routing, states, NOW, last, frozenset(offered))).chosen:
        (last,) = decision.chosen
        offered.append(last)
        assert len(offered) <= len(eligible)
    assert offered == eligible

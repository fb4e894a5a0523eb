"""Property tests of the routing decisions over random event sequences.

A small in-memory writer applies the intents the way ``router.routing`` does, so the
invariants are checked on what the decisions ask for, event after event: messages, presence,
takes, skips, closes and clock ticks that fire due timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from config.modes import Mode
from router.decide import (
    DialogSnapshot,
    LinePolicy,
    decide_offer_timeout,
    decide_open,
    decide_skip,
    decide_take,
    decide_unavailable,
    route,
    route_waiting,
)
from router.distribution import OperatorState
from router.distribution import Status as OperatorStatus
from router.intents import (
    Assign,
    AutoReply,
    CancelTimer,
    Close,
    EndOffers,
    Intent,
    Note,
    Offer,
    SetTimer,
    Unassign,
)
from router.lifecycle import decide_close, decide_no_answer
from router.snapshots import Status as DialogStatus

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


TimerValue = str | int | None
"""A value of a timer's payload, as ``router.intents`` carries it."""


def number(payload: dict[str, TimerValue], key: str) -> int:
    """An integer of a timer's payload (0 when absent, as the router reads a missing id)."""
    value = payload.get(key, 0)
    assert isinstance(value, int), (key, value)
    return value


@dataclass
class Dlg:
    id: int
    opened_at: datetime
    status: DialogStatus = "waiting"
    operator_id: int | None = None
    offers: dict[int, bool] = field(default_factory=dict)  # operator -> exclusive
    round: int = 0
    last_offered: int | None = None
    skipped: set[int] = field(default_factory=set)
    answered: bool = False
    wait_reason: str | None = None


@dataclass
class World:
    line: LinePolicy
    caps: dict[int, int | None]
    status: dict[int, OperatorStatus]
    now: datetime = START
    last: dict[int, datetime | None] = field(default_factory=dict)
    dialogs: dict[int, Dlg] = field(default_factory=dict)
    timers: dict[str, tuple[datetime, dict[str, TimerValue]]] = field(default_factory=dict)
    sent_to_client: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    offers_made: list[tuple[int, int]] = field(default_factory=list)

    def states(self) -> list[OperatorState]:
        out = []
        for op in self.line.queue:
            load = sum(
                1
                for d in self.dialogs.values()
                if d.status != "closed" and (d.operator_id == op or d.offers.get(op) is True)
            )
            out.append(
                OperatorState(
                    op,
                    self.status[op],
                    load,
                    load,
                    self.caps[op],
                    None,
                    self.last.get(op),
                    True,
                )
            )
        return out

    def snap(self, d: Dlg) -> DialogSnapshot:
        return DialogSnapshot(
            d.id,
            self.line.line_id,
            d.status,
            d.operator_id,
            d.opened_at,
            answered=d.answered,
            offered_to=tuple(d.offers),
            offer_exclusive=any(d.offers.values()),
            offer_round=d.round,
            last_offered=d.last_offered,
            skipped_by=frozenset(d.skipped),
            wait_reason=d.wait_reason,
        )

    def apply(self, intents: list[Intent]) -> None:
        freed = False
        for i in intents:
            if isinstance(i, SetTimer):
                self.timers[i.key] = (i.due_at, dict(i.payload))
                continue
            if isinstance(i, CancelTimer):
                self.timers.pop(i.key, None)
                continue
            d = self.dialogs.get(getattr(i, "dialog_id", -1))
            if d is None:
                continue
            if isinstance(i, Assign):
                # No dialog is ever given to two operators: only a waiting one is assigned.
                assert d.status == "waiting" and d.operator_id is None, (i, d)
                assert self.status[i.operator_id] != "offline"
                d.status, d.operator_id, d.wait_reason = "open", i.operator_id, None
                self.last[i.operator_id] = self.now
            elif isinstance(i, Offer):
                assert d.status == "waiting" and not d.offers, (i, d)
                d.round = i.round
                d.wait_reason = None
                d.offers = {op: i.exclusive for op in i.operator_ids}
                if i.exclusive:
                    d.last_offered = i.operator_ids[0]
                self.offers_made.extend((d.id, op) for op in i.operator_ids)
            elif isinstance(i, EndOffers):
                for op in i.operator_ids or tuple(d.offers):
                    d.offers.pop(op, None)
                    if i.state == "skipped":
                        d.skipped.add(op)
            elif isinstance(i, Unassign):
                d.status, d.operator_id = "waiting", None
            elif isinstance(i, Close):
                d.status = "closed"
                freed = True
            elif isinstance(i, AutoReply):
                self.sent_to_client.append(i.text)
            elif isinstance(i, Note):
                self.hidden.append(i.text)
            else:
                d.wait_reason = getattr(i, "reason", d.wait_reason)
        if freed:
            self.reroute("operator_freed")

    def reroute(self, why: str) -> None:
        self.apply(
            route_waiting(
                [self.snap(d) for d in self.dialogs.values()],
                self.line,
                self.states(),
                self.now,
                why,
            )
        )

    def check(self) -> None:
        # Limits bound takes and transfers by hand as well as automatic assignment: nobody,
        # away or online, ever holds more dialogs than their limit allows.
        for state in self.states():
            if state.max_on_line is not None:
                assert state.open_dialogs_on_line <= state.max_on_line, state
        for d in self.dialogs.values():
            if d.status == "open":
                assert not d.offers
            if d.status == "waiting" and len(d.offers) > 1:
                assert not any(d.offers.values())
        assert not set(self.hidden) & set(self.sent_to_client)

    # --- events -------------------------------------------------------------------------
    def new_dialog(self) -> None:
        d = Dlg(len(self.dialogs) + 1, self.now)
        self.dialogs[d.id] = d
        self.apply(decide_open(self.snap(d), self.line, self.states(), self.now))

    def take(self, op: int, n: int) -> None:
        if d := self._pick(n):
            self.apply(decide_take(self.snap(d), self.line, self.states(), op, self.now))
            self.reroute("operator_freed")

    def skip(self, op: int, n: int) -> None:
        if d := self._pick(n):
            self.apply(decide_skip(self.snap(d), self.line, self.states(), op, self.now))
            self.reroute("operator_freed")

    def answer(self, n: int) -> None:
        if (d := self._pick(n)) and d.status == "open":
            d.answered = True

    def close(self, n: int) -> None:
        if d := self._pick(n):
            self.apply(decide_close(self.snap(d), self.line, "operator"))

    def presence(self, op: int, status: OperatorStatus) -> None:
        if self.status[op] == status:
            return
        self.status[op] = status
        if status == "online":
            self.reroute("operator_online")
        else:
            snaps = [self.snap(d) for d in self.dialogs.values()]
            self.apply(decide_unavailable(snaps, self.line, self.states(), op, status, self.now))

    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        for key, (due, payload) in sorted(self.timers.items(), key=lambda kv: kv[1][0]):
            if due > self.now or key not in self.timers:
                continue
            del self.timers[key]
            d = self.dialogs.get(number(payload, "dialog_id"))
            if d is None:
                continue
            if key.startswith("offer:"):
                self.apply(
                    decide_offer_timeout(
                        self.snap(d),
                        self.line,
                        self.states(),
                        number(payload, "operator_id"),
                        number(payload, "round"),
                        self.now,
                    )
                )
            elif key.startswith("noanswer:"):
                self.apply(decide_no_answer(self.snap(d), self.line, self.states(), self.now))

    def _pick(self, n: int) -> Dlg | None:
        live = [d for d in self.dialogs.values() if d.status != "closed"]
        return live[n % len(live)] if live else None


OPS = (1, 2, 3, 4)
events = st.one_of(
    st.tuples(st.just("new")),
    st.tuples(st.just("take"), st.sampled_from(OPS), st.integers(0, 20)),
    st.tuples(st.just("skip"), st.sampled_from(OPS), st.integers(0, 20)),
    st.tuples(st.just("answer"), st.integers(0, 20)),
    st.tuples(st.just("close"), st.integers(0, 20)),
    st.tuples(
        st.just("presence"), st.sampled_from(OPS), st.sampled_from(("online", "away", "offline"))
    ),
    st.tuples(st.just("tick"), st.integers(1, 200)),
)


@settings(max_examples=150, deadline=None)
@example(  # an away operator at their line's limit took a second dialog by hand
    mode="evenly",
    caps=[None, None, 1, None],
    statuses=["away"] * 4,
    requeue=False,
    steps=[("new",), ("new",), ("take", 3, 0), ("take", 3, 1)],
)
@given(
    mode=st.sampled_from(("evenly", "sequence", "all")),
    caps=st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=4, max_size=4),
    statuses=st.lists(st.sampled_from(("online", "away", "offline")), min_size=4, max_size=4),
    requeue=st.booleans(),
    steps=st.lists(events, max_size=60),
)
def test_random_event_sequences_keep_the_routing_invariants(
    mode: Mode,
    caps: list[int | None],
    statuses: list[OperatorStatus],
    requeue: bool,
    steps: list[tuple[object, ...]],
) -> None:
    line = LinePolicy(
        1,
        mode,
        OPS,
        offer_seconds=60,
        no_answer_seconds=90,
        no_answer_action="requeue" if requeue else "wait",
    )
    world = World(line, dict(zip(OPS, caps, strict=True)), dict(zip(OPS, statuses, strict=True)))
    for step in steps:
        getattr(world, {"new": "new_dialog"}.get(str(step[0]), str(step[0])))(*step[1:])
        world.check()
    # Every waiting dialog that someone could take has an offer or waits for a reason.
    for d in world.dialogs.values():
        if d.status == "waiting" and not d.offers:
            assert d.wait_reason is not None


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 6), rounds=st.integers(1, 3), away=st.sets(st.integers(0, 5), max_size=3))
def test_sequence_offers_follow_queue_order_and_reach_everyone(
    n: int, rounds: int, away: set[int]
) -> None:
    queue = tuple(range(1, n + 1))
    status: dict[int, OperatorStatus] = {
        op: ("away" if op - 1 in away else "online") for op in queue
    }
    eligible = [op for op in queue if status[op] == "online"]
    world = World(LinePolicy(1, "sequence", queue), dict.fromkeys(queue), status)
    world.new_dialog()
    for _ in range(len(eligible) * rounds - 1):
        world.tick(61)
    offered = [op for _d, op in world.offers_made]
    assert offered == eligible * rounds


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 6), history=st.lists(st.integers(0, 5), max_size=6))
def test_evenly_starves_no_eligible_operator(n: int, history: list[int]) -> None:
    queue = tuple(range(1, n + 1))
    world = World(
        LinePolicy(1, "evenly", queue), dict.fromkeys(queue), dict.fromkeys(queue, "online")
    )
    # Some operators were given dialogs before, at various times.
    for k, h in enumerate(history):
        world.last[queue[h % n]] = START - timedelta(minutes=k + 1)
    got = []
    for _ in range(n):
        world.tick(1)
        world.new_dialog()
        operator = world.dialogs[len(world.dialogs)].operator_id
        assert operator is not None
        got.append(operator)
    assert sorted(got) == list(queue)  # n new dialogs reach all n operators


def test_route_of_a_lone_busy_operator_waits() -> None:
    world = World(LinePolicy(1, "evenly", (1,)), {1: 1}, {1: "online"})
    world.new_dialog()
    world.new_dialog()
    assert [d.status for d in world.dialogs.values()] == ["open", "waiting"]
    world.close(0)
    assert world.dialogs[2].operator_id == 1  # it goes out the moment the operator frees up
    assert route(world.snap(world.dialogs[2]), world.line, world.states(), world.now) != []

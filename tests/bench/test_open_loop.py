"""The open loop's schedule with a burst of new visitors: what the benchmark claims to send is
what it sends."""

from __future__ import annotations

import random

import pytest

from bench.load_result import summarise
from bench.open_loop import _arrivals
from bench.webchat_load import Shared, Track


def test_a_burst_adds_each_newcomers_first_message_within_one_second_mid_run() -> None:
    sends = _arrivals(random.Random(7), rate=200, duration_s=10, talking=150, newcomers=50)
    assert [at for at, _ in sends] == sorted(at for at, _ in sends)
    firsts: dict[int, float] = {}
    for at, who in sends:
        firsts.setdefault(who, at)
    newcomers = {who: at for who, at in firsts.items() if who >= 150}
    assert sorted(newcomers) == list(range(150, 200))
    assert all(5.0 <= at < 6.0 for at in newcomers.values())
    # The rate's arrivals come on top of the burst: about 2,000 in 10 s.
    assert 1_850 <= len(sends) - 50 <= 2_150
    # Before the burst only the visitors with an open dialog send.
    assert all(who < 150 for at, who in sends if at < 5.0)


def test_without_a_burst_every_arrival_is_drawn_at_the_rate() -> None:
    sends = _arrivals(random.Random(7), rate=50, duration_s=20, talking=10, newcomers=0)
    assert 900 <= len(sends) <= 1_100
    assert {who for _, who in sends} == set(range(10))
    assert all(0 < at <= 20 for at, _ in sends)


def test_a_burst_window_sums_up_the_messages_sent_in_it_apart_from_the_others() -> None:
    shared = Shared()
    # Sent at 1, 5.5 and 9 s; the window is [5, 7): only the second is in it.
    for cid, sent, latency in (("v0-m0", 1.0, 0.010), ("v1-m1", 5.5, 0.200), ("v0-m2", 9.0, 0.030)):
        shared.tracks[cid] = Track(sent=sent, console=sent + latency)
    result = summarise(shared, visitors=2, messages=2, operators=1, burst_window=(5.0, 7.0))
    assert result.in_burst_to_operator is not None
    assert result.outside_burst_to_operator is not None
    assert result.in_burst_to_operator.count == 1
    assert result.in_burst_to_operator.max_ms == pytest.approx(200)
    assert result.outside_burst_to_operator.count == 2
    assert result.outside_burst_to_operator.max_ms == pytest.approx(30)
    assert result.visitor_to_operator.count == 3


def test_without_a_burst_nothing_is_summed_up_apart() -> None:
    shared = Shared()
    shared.tracks["v0-m0"] = Track(sent=1.0, console=1.01)
    result = summarise(shared, visitors=1, messages=1, operators=1)
    assert result.in_burst_to_operator is None
    assert result.outside_burst_to_operator is None
    assert result.as_dict()["in_burst_to_operator"] is None

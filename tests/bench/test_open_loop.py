"""The open loop's schedule with a burst of new visitors: what the benchmark claims to send is
what it sends."""

from __future__ import annotations

import random

from bench.open_loop import _arrivals


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

"""The one backoff policy: a growing, capped wait that yields to a platform's own retry_after."""

from __future__ import annotations

import pytest

from core.backoff import Backoff


def test_the_wait_grows_by_the_factor_and_stops_at_the_cap() -> None:
    backoff = Backoff(attempts=5, first_s=0.5, factor=2, max_s=3)
    assert [backoff.delay(i) for i in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_platforms_retry_after_wins_even_above_the_cap() -> None:
    backoff = Backoff(first_s=0.5, max_s=3)
    assert backoff.delay(1, retry_after=7) == 7.0
    assert backoff.delay(4, retry_after=0) == 0.0
    assert backoff.delay(2, retry_after=-1) == 0.0  # a clock skew never means "in the past"


def test_attempt_zero_is_treated_as_the_first() -> None:
    assert Backoff(first_s=0.2, factor=3).delay(0) == pytest.approx(0.2)


def test_a_policy_is_a_frozen_value() -> None:
    backoff = Backoff()
    with pytest.raises(AttributeError):
        backoff.max_s = 1  # type: ignore[misc]
    assert backoff == Backoff() and hash(backoff) == hash(Backoff())


@pytest.mark.parametrize(
    "bad", [{"attempts": 0}, {"first_s": -1}, {"factor": 0.5}, {"max_s": -0.1}]
)
def test_an_unusable_policy_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**bad)  # type: ignore[arg-type]

"""Which of two routers keeps the streams when both find they hold some, on SQLite where they do
not share them out (``router.worker.may_hold``): the processes' side of it is in
``test_sqlite_standby.py``; the moment both hold streams is a race those tests cannot set up."""

from __future__ import annotations

import pytest

from router.worker import may_hold


@pytest.mark.parametrize(
    ("mine", "holders", "holds"),
    [
        (0, [None, None], True),  # nobody holds anything: take them up
        (2, ["router-a", "router-a", None], True),  # only this router holds some
        (0, ["router-b", None, None], False),  # another holds some: stand by
        (3, ["router-a"] * 3 + ["router-b"] * 2, True),  # more than the other: keep them
        (2, ["router-a"] * 2 + ["router-b"] * 3, False),  # fewer: give them back
        (2, ["router-a"] * 2 + ["router-b"] * 2, True),  # as many, the earlier name keeps
        (3, ["router-a"] * 3 + ["router-b"] * 2 + ["router-0"] * 3, False),  # each must be beaten
    ],
)
def test_two_routers_that_both_hold_streams_settle_which_keeps_them(
    mine: int, holders: list[str | None], holds: bool
) -> None:
    """Two routers find they both hold streams (they began at once, or one came back from a
    pause): the one with more keeps them, and with as many, the one with the earlier name;
    the other gives its streams back and stands by."""
    assert may_hold("router-a", mine, holders) is holds
    if None not in holders and len(set(holders)) == 2 and mine:
        # Seen from the other router, the answer is the opposite: exactly one keeps them.
        theirs = sum(1 for h in holders if h == "router-b")
        assert may_hold("router-b", theirs, holders) is not holds

"""The ``redis+sentinel://`` and ``redis+cluster://`` forms of ``redis_url``: what they name,
and clear errors."""

from __future__ import annotations

import pytest

from core.redis_connect import (
    ClusterTarget,
    SentinelTarget,
    check_cluster_url,
    check_sentinel_url,
)


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    url = "redis+sentinel://:s%40cret@10.0.0.5:26379,10.0.0.6:26380,[::1]:26381/mymaster/2"
    assert check_sentinel_url(url) == SentinelTarget(
        (("10.0.0.5", 26379), ("10.0.0.6", 26380), ("::1", 26381)), "mymaster", 2, "s@cret"
    )
    assert check_sentinel_url("redis+sentinel://h:26379/main") == SentinelTarget(
        (("h", 26379),), "main", 0, None
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis://h:6379/0", "not a redis"),
        ("redis+sentinel://h/mymaster/0", "is not host:port"),
        ("redis+sentinel://h:26379", "the path must be"),
        ("redis+sentinel://h:26379/m/x", "is not a number"),
        ("redis+sentinel://h:26379/m/0/extra", "the path must be"),
    ],
)
def test_a_bad_sentinel_url_says_what_is_wrong(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_sentinel_url(url)


def test_a_cluster_url_names_the_nodes_to_ask_and_the_password() -> None:
    url = "redis+cluster://:s%40cret@10.0.0.5:6379,10.0.0.6:6380,[::1]:6381/"
    assert check_cluster_url(url) == ClusterTarget(
        (("10.0.0.5", 6379), ("10.0.0.6", 6380), ("::1", 6381)), "s@cret"
    )
    assert check_cluster_url("redis+cluster://h:7000") == ClusterTarget((("h", 7000),), None)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+sentinel://h:26379/m", "not a redis\\+cluster"),
        ("redis+cluster://h", "cluster node address 'h' is not host:port"),
        ("redis+cluster://h:7000/0", "has no path"),
    ],
)
def test_a_bad_cluster_url_says_what_is_wrong(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_cluster_url(url)

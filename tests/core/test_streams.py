"""Names on the bus that must not collide between processes."""

from __future__ import annotations

import os
import socket

from core import streams


def test_two_consumers_of_one_role_on_one_host_never_share_a_name() -> None:
    first, second = streams.consumer_name("router"), streams.consumer_name("router")
    assert first != second
    for name in (first, second):
        assert name.startswith(f"{socket.gethostname()}-router-{os.getpid()}-")

"""How long a transfer of a given size is given: a mail to or from its server, a client's
file from a platform.

A transfer is waited for as long as the slowest link we serve needs for its size, on top of the
fixed wait for an answer: 17 minutes for 50 MB. Large files on slow links are the ones a fixed
bound fails, and failing one means fetching or sending it again at every retry.
"""

from __future__ import annotations

SLOWEST_LINK_BYTES_S = 50 * 1024


def transfer_s(size: int) -> float:
    """Seconds to allow for moving ``size`` bytes over the slowest link."""
    return size / SLOWEST_LINK_BYTES_S

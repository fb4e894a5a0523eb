"""A long-poll link on its own: what it holds for a page that does not poll."""

from __future__ import annotations

import pytest

from connectors.webchat import polling


async def test_a_link_whose_page_reads_nothing_is_closed_once_too_far_behind() -> None:
    """As a socket whose widget stopped reading: a push never piles up without bound."""
    link = polling.PollLink("192.0.2.1")
    frame = {"type": "message", "text": "x" * 4000}
    taken = 0
    with pytest.raises(ConnectionResetError, match="too far behind"):
        while True:
            await link.send_json(frame)
            taken += 1
    assert 60 <= taken <= 70  # 256 KiB of 4 KB frames
    assert link.closed_with is not None and link.closed_with[1] == "too far behind"
    last, texts = await link.frames_after(0, wait_s=0)
    assert last == taken and len(texts) == taken  # what was taken still reaches the page
    with pytest.raises(ConnectionResetError):
        await link.send_json(frame)

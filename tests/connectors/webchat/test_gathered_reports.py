"""Delivery reports of a moment go to the router in one entry, while the claims that go with
them are written at once, on a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.client import Pipeline

from connectors.webchat.reports import GatheredReports, Writes, entries_of
from core import streams
from core.bus import Bus
from core.bus_tail import FIELD
from core.envelope import OUTCOMES_MOST, DeliveryOutcomes, DeliveryStatus, decode


async def reported(bus: Bus) -> list[list[tuple[int, str]]]:
    """Each ``DeliveryOutcomes`` entry on the command stream, as (message id, status) pairs."""
    entries: Any = await bus.redis.xrange(streams.COMMANDS)
    found: list[list[tuple[int, str]]] = []
    for _id, fields in entries:
        payload = decode(fields[FIELD.encode()])
        assert isinstance(payload, DeliveryOutcomes)
        found.append([(o.message_id, o.status) for o in payload.outcomes])
    return found


def marker(key: str) -> Writes:
    def write(pipe: Pipeline) -> None:
        pipe.set(key, "shown")

    return write


async def test_reports_of_several_reads_within_the_window_go_in_one_entry(bus: Bus) -> None:
    reports = GatheredReports(bus, window_s=0.2)
    await reports.report([1], "delivered", marker("claim:1"))
    await reports.report([2, 3], "delivered", marker("claim:2"))
    await reports.report([1], "seen")
    # No report is sent before the window ends; the claims are written at once, so that no
    # other process mails an answer the widget showed while its report waits.
    assert await reported(bus) == []
    assert [await bus.redis.get(k) for k in ("claim:1", "claim:2")] == [b"shown", b"shown"]
    assert reports.waiting() == 4

    async with asyncio.timeout(5):
        while not await reported(bus):
            await asyncio.sleep(0.02)
    assert await reported(bus) == [
        [(1, "delivered"), (2, "delivered"), (3, "delivered"), (1, "seen")]
    ]
    assert [await bus.redis.get(k) for k in ("claim:1", "claim:2")] == [b"shown", b"shown"]
    assert reports.waiting() == 0

    # A report after the window starts a window of its own.
    await reports.report([4], "seen")
    async with asyncio.timeout(5):
        while len(await reported(bus)) < 2:
            await asyncio.sleep(0.02)
    assert (await reported(bus))[1] == [(4, "seen")]


async def test_as_many_reports_as_an_entry_holds_go_at_once(bus: Bus) -> None:
    reports = GatheredReports(bus, window_s=60)
    await reports.report(list(range(1, OUTCOMES_MOST)), "delivered")
    assert await reported(bus) == []
    await reports.report([OUTCOMES_MOST, OUTCOMES_MOST + 1], "delivered")
    # Sent before ``report`` returned, a minute before the window would have ended.
    sent = await reported(bus)
    assert [len(entry) for entry in sent] == [OUTCOMES_MOST, 1]
    assert [m for entry in sent for m, _status in entry] == list(range(1, OUTCOMES_MOST + 2))
    await reports.close()


async def test_without_a_window_each_report_goes_at_once(bus: Bus) -> None:
    reports = GatheredReports(bus, window_s=0)
    await reports.report([7], "delivered", marker("claim:7"))
    assert await reported(bus) == [[(7, "delivered")]]
    assert await bus.redis.get("claim:7") == b"shown"
    await reports.report([], "seen")  # nothing to report: no entry
    assert len(await reported(bus)) == 1


async def test_closing_sends_what_waits(bus: Bus) -> None:
    reports = GatheredReports(bus, window_s=60)
    await reports.report([5, 6], "seen", marker("claim:5"))
    await reports.close()
    assert await reported(bus) == [[(5, "seen"), (6, "seen")]]
    assert await bus.redis.get("claim:5") == b"shown"
    assert reports.waiting() == 0


def test_reports_go_in_as_few_entries_as_allowed() -> None:
    pairs: list[tuple[int, DeliveryStatus]] = [(i, "seen") for i in range(1, OUTCOMES_MOST * 2 + 2)]
    entries = [payload for _stream, payload in entries_of(pairs)]
    assert [len(e.outcomes) for e in entries] == [OUTCOMES_MOST, OUTCOMES_MOST, 1]
    carried = [(o.message_id, o.status) for e in entries for o in e.outcomes]
    assert carried == pairs

"""What a run of simulated visitors and operators measured, summed up from their tracks."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.stats import Latency, steady_rate

if TYPE_CHECKING:
    from bench.webchat_load import Shared, Track


@dataclass(frozen=True)
class LoadResult:
    """What one end-to-end run measured."""

    visitors: int
    messages_per_visitor: int
    operators: int
    sent: int
    delivered: int
    replied: int
    seconds: float
    steady_msgs_per_s: float
    """Visitor messages reaching their operator per second, 10th to 90th percentile."""
    overall_msgs_per_s: float
    """Visitor messages reaching their operator over the whole run (first send on)."""
    steady_stored_per_s: float
    """Stored messages (visitor messages and replies) per second, 10th to 90th percentile."""
    paced: int
    resyncs: int
    """How often the console closed an operator's socket that fell behind (it then reopened)."""
    visitor_to_operator: Latency
    opening_to_operator: Latency
    """Visitor → operator of each visitor's first message, the one that opens a dialog."""
    open_dialog_to_operator: Latency
    """Visitor → operator of every later message, in a dialog already open."""
    operator_to_visitor: Latency
    round_trip: Latency
    accepted: Latency
    stored_echo: Latency
    opening_echo: Latency
    """Visitor send → stored echo of each visitor's first message: how long the router took
    to store the message that opens a dialog, apart from the console's part."""
    reply_post: Latency
    errors: dict[str, int]
    error_samples: list[str]
    in_burst_to_operator: Latency | None = None
    """Visitor → operator of every message sent in the burst's window (open loop with a burst)."""
    outside_burst_to_operator: Latency | None = None
    """Visitor → operator of every message sent before or after that window."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = value.as_dict() if isinstance(value, Latency) else value
        return out


def summarise(
    shared: Shared,
    visitors: int,
    messages: int,
    operators: int,
    openings: Collection[str] | None = None,
    burst_window: tuple[float, float] | None = None,
) -> LoadResult:
    """What the tracks of a run add up to. ``openings`` names the messages that opened a dialog;
    without it, each visitor's first message did. ``burst_window``: the instants (from, to) of a
    burst, whose messages are summed up apart from the others'."""
    tracks = list(shared.tracks.values())
    opening = _openings(shared) if openings is None else [shared.tracks[c] for c in openings]
    opened = {id(t) for t in opening}
    delivered = [t for t in tracks if t.console is not None]
    replied = [t for t in tracks if t.reply_seen is not None]
    first = min((t.sent for t in tracks), default=0.0)
    last = max((t.reply_seen or t.console or t.sent for t in tracks), default=0.0)
    seconds = last - first
    console_instants = [t.console for t in delivered if t.console is not None]
    overall = len(delivered) / (max(console_instants) - first) if console_instants else 0.0

    def gaps(pairs: Sequence[tuple[float | None, float | None]]) -> list[float]:
        return [b - a for a, b in pairs if a is not None and b is not None]

    in_burst: Latency | None = None
    outside_burst: Latency | None = None
    if burst_window is not None:
        begin, end = burst_window
        inside = [(t.sent, t.console) for t in tracks if begin <= t.sent < end]
        outside = [(t.sent, t.console) for t in tracks if not begin <= t.sent < end]
        in_burst, outside_burst = Latency.of(gaps(inside)), Latency.of(gaps(outside))

    return LoadResult(
        visitors=visitors,
        messages_per_visitor=messages,
        operators=operators,
        sent=len(tracks),
        delivered=len(delivered),
        replied=len(replied),
        seconds=seconds,
        steady_msgs_per_s=steady_rate(console_instants),
        overall_msgs_per_s=overall,
        # A reply is stored before the visitor sees it, so reply_seen stands in for its store.
        steady_stored_per_s=steady_rate(
            console_instants + [t.reply_seen for t in replied if t.reply_seen is not None]
        ),
        paced=shared.paced,
        resyncs=shared.resyncs,
        visitor_to_operator=Latency.of(gaps([(t.sent, t.console) for t in tracks])),
        opening_to_operator=Latency.of(gaps([(t.sent, t.console) for t in opening])),
        open_dialog_to_operator=Latency.of(
            gaps([(t.sent, t.console) for t in tracks if id(t) not in opened])
        ),
        operator_to_visitor=Latency.of(gaps([(t.reply_sent, t.reply_seen) for t in tracks])),
        round_trip=Latency.of(gaps([(t.sent, t.reply_seen) for t in tracks])),
        accepted=Latency.of(gaps([(t.sent, t.accepted) for t in tracks])),
        stored_echo=Latency.of(gaps([(t.sent, t.echoed) for t in tracks])),
        opening_echo=Latency.of(gaps([(t.sent, t.echoed) for t in opening])),
        reply_post=Latency.of(gaps([(t.reply_sent, t.reply_posted) for t in tracks])),
        errors=dict(shared.errors),
        error_samples=list(shared.error_samples),
        in_burst_to_operator=in_burst,
        outside_burst_to_operator=outside_burst,
    )


def _openings(shared: Shared) -> list[Track]:
    """Each visitor's first message: tracks are named ``v<visitor>-m<number>``."""
    first: dict[str, Track] = {}
    for cid, track in shared.tracks.items():
        visitor = cid.partition("-")[0]
        if visitor not in first or track.sent < first[visitor].sent:
            first[visitor] = track
    return list(first.values())

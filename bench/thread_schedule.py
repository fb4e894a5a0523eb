"""How the kernel scheduled the router's main thread during the end-to-end phase.

A process's CPU seconds say how much it ran, not why it did not run more. The router's main
thread is the split's serial stage: while it is runnable but waits for a CPU, every message
waits with it, though the machine may have a core idle for part of that time. The kernel keeps
both figures for each thread (``/proc/PID/task/TID/schedstat``: time on a CPU, time runnable
on a run queue), and counts the switches away from it: those it asked for by waiting on a
socket (voluntary) and those the scheduler made to run another task (involuntary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NS = 1e-9


@dataclass(frozen=True)
class ThreadSchedule:
    """Counters of one thread, or their differences over a span (``since``)."""

    on_cpu_s: float
    waiting_s: float
    """Runnable, but on a run queue while other tasks had the CPUs."""
    preempted: int
    """Switched out by the scheduler while it could still run."""
    slept: int
    """Switched out because it waited (for a socket, a lock, a timer)."""

    def since(self, before: ThreadSchedule) -> ThreadSchedule:
        return ThreadSchedule(
            self.on_cpu_s - before.on_cpu_s,
            self.waiting_s - before.waiting_s,
            self.preempted - before.preempted,
            self.slept - before.slept,
        )

    def line(self, wall_s: float) -> str:
        """The span's shares of ``wall_s`` and its switches a second."""
        asleep = max(0.0, wall_s - self.on_cpu_s - self.waiting_s)
        return (
            f"on a CPU {100 * self.on_cpu_s / wall_s:.0f}%, "
            f"waiting for one {100 * self.waiting_s / wall_s:.0f}%, "
            f"asleep {100 * asleep / wall_s:.0f}%; "
            f"preempted {self.preempted / wall_s:,.0f}/s, slept {self.slept / wall_s:,.0f}/s"
        )


def main_thread(pid: int) -> ThreadSchedule | None:
    """The counters of ``pid``'s main thread; None once it is gone, or on a kernel that keeps
    no scheduler statistics."""
    task = Path(f"/proc/{pid}/task/{pid}")
    try:
        on_cpu_ns, waiting_ns, _slices = (int(f) for f in (task / "schedstat").read_text().split())
        status = dict(
            line.split(":", 1) for line in (task / "status").read_text().splitlines() if ":" in line
        )
        return ThreadSchedule(
            on_cpu_ns * NS,
            waiting_ns * NS,
            int(status["nonvoluntary_ctxt_switches"]),
            int(status["voluntary_ctxt_switches"]),
        )
    except (OSError, ValueError, KeyError):
        return None

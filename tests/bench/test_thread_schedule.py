"""The router's main thread as the kernel scheduled it: what the benchmark reads of it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.thread_schedule import ThreadSchedule, main_thread


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_time_on_a_cpu_is_the_threads_own() -> None:
    before = main_thread(os.getpid())
    assert before is not None, "no scheduler statistics in /proc"
    spent = time.thread_time()
    _spin(0.2)
    spent = time.thread_time() - spent
    after = main_thread(os.getpid())
    assert after is not None
    span = after.since(before)
    assert span.on_cpu_s == pytest.approx(spent, abs=0.05)
    assert span.waiting_s >= 0 and span.preempted >= 0 and span.slept >= 0


def test_a_sleep_counts_as_a_voluntary_switch() -> None:
    before = main_thread(os.getpid())
    assert before is not None, "no scheduler statistics in /proc"
    for _ in range(5):
        time.sleep(0.01)
    after = main_thread(os.getpid())
    assert after is not None
    assert after.since(before).slept >= 5


def test_a_process_that_is_gone_has_no_figures() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert main_thread(int(child.stdout)) is None


def test_the_line_gives_shares_of_the_span_and_switches_a_second() -> None:
    span = ThreadSchedule(on_cpu_s=7.1, waiting_s=2.5, preempted=5120, slept=280)
    assert span.line(10.0) == (
        "on a CPU 71%, waiting for one 25%, asleep 4%; preempted 512/s, slept 28/s"
    )

"""The ``cpus`` setting: its list of CPUs, and a process kept on them with all its threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.cpu_list import parse_cpus
from config.settings import Settings
from core.cpus import pin_process
from tests.support.fresh_python import run_fresh

pytestmark = pytest.mark.pure


def test_a_list_names_single_cpus_and_ranges() -> None:
    assert parse_cpus("") == frozenset()
    assert parse_cpus("1") == {1}
    assert parse_cpus(" 0, 2 ") == {0, 2}
    assert parse_cpus("2-4,7") == {2, 3, 4, 7}


@pytest.mark.parametrize("text", ["a", "1,,2", "-1", "3-1", "1-", "1.5"])
def test_a_bad_list_is_refused_with_the_setting_named(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpus(text)
    with pytest.raises(ValidationError, match="cpus"):
        Settings(cpus=text)


PROBE = """
import os, sys, threading
from pathlib import Path
from core.cpus import pin_process

def allowed(tid):
    status = Path(f"/proc/self/task/{tid}/status").read_text()
    lines = status.splitlines()
    return next(l.split(":")[1].strip() for l in lines if l.startswith("Cpus_allowed_list"))

cpu = int(sys.argv[1])
stop = threading.Event()
before = threading.Thread(target=stop.wait)
before.start()
print(pin_process(frozenset({cpu})))
after = threading.Thread(target=stop.wait)
after.start()
print(sorted({allowed(t.name) for t in Path("/proc/self/task").iterdir()}))
print(pin_process(frozenset({cpu, 10_000})))
stop.set()
"""


def test_every_thread_is_kept_on_the_cpus_and_new_ones_follow() -> None:
    cpu = max(os.sched_getaffinity(0))
    pinned, each, refused = run_fresh(PROBE, str(cpu)).splitlines()
    assert pinned == "True"
    # The main thread, the one started before and the one started after: all on that CPU.
    assert each == str([str(cpu)])
    # A CPU the process may not use: refused as a whole, nothing half pinned.
    assert refused == "False"


def test_a_system_without_cpu_affinity_runs_the_hub_unpinned(tmp_path: Path) -> None:
    """Where there is no ``/proc/self/task`` (not Linux), the setting is refused with a warning
    instead of stopping the hub's start."""
    assert pin_process(frozenset({0}), tasks=tmp_path / "no-such-dir") is False

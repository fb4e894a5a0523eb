"""Python code run in a fresh interpreter on this tree: for what a test process, which has
imported everything already, can't show (what a start imports, and how)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str, *args: str) -> str:
    """What ``code`` printed, run with ``args`` as ``sys.argv[1:]``; it must exit with 0."""
    probe = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return probe.stdout

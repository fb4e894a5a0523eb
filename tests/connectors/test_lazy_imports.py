"""A hub without a channel of a kind does not load that kind's library: aiogram (Telegram),
vk_api and requests under it (VK), charset-normalizer (email bodies without a charset)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from config.settings import Settings
from operator_console.app import build_app
build_app(Settings(data_dir=sys.argv[1]))
LIBRARIES = {"aiogram", "vk_api", "requests", "charset_normalizer"}
print(",".join(sorted({m.split(".")[0] for m in sys.modules} & LIBRARIES)))
"""


def test_building_the_hub_imports_no_channel_library(tmp_path: Path) -> None:
    # A fresh interpreter: this test process may have imported them for other tests.
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
    assert probe.stdout.strip() == ""

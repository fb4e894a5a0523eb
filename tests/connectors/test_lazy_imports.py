"""A hub without a channel of a kind does not load that kind's library: aiogram (Telegram),
vk_api and requests under it (VK), charset-normalizer (email bodies without a charset)."""

from __future__ import annotations

from pathlib import Path

from tests.support.fresh_python import run_fresh

PROBE = """
import sys
from config.settings import Settings
from operator_console.app import build_app
build_app(Settings(data_dir=sys.argv[1]))
LIBRARIES = {"aiogram", "vk_api", "requests", "charset_normalizer"}
print(",".join(sorted({m.split(".")[0] for m in sys.modules} & LIBRARIES)))
"""


def test_building_the_hub_imports_no_channel_library(tmp_path: Path) -> None:
    output = run_fresh(PROBE, str(tmp_path))
    assert output.strip() == ""

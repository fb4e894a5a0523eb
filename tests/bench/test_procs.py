"""The measured hub runs the code of the tree the benchmark comes from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.procs import SOURCE_ROOT, source_path


def test_the_hub_imports_this_tree_first(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": source_path(str(tmp_path))}
    shown = subprocess.run(
        [sys.executable, "-c", "import router.worker as w, sys; print(w.__file__)"],
        cwd=tmp_path,  # not the tree: only the path can point there
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(shown.stdout.strip()) == SOURCE_ROOT / "router" / "worker.py"


def test_an_inherited_path_stays_after_the_tree(tmp_path: Path) -> None:
    assert source_path(str(tmp_path)).split(os.pathsep) == [str(SOURCE_ROOT), str(tmp_path)]
    assert source_path(None) == str(SOURCE_ROOT)
    assert source_path("") == str(SOURCE_ROOT)

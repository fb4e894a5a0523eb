"""The layer rules of the design, checked on every module's imports.

``core`` and ``config`` sit at the bottom and import none of the packages above them;
``connectors``, ``router`` and ``crm_sink`` meet only through the bus and the database, so
none imports another; ``simulator`` sits above ``router`` and ``config`` (it replays
their decisions) and only ``operator_console``, on top, imports it; nothing below the console
imports the console. Within a package, modules import each other without cycles. Imports
inside functions and under ``TYPE_CHECKING`` count: a cycle hidden there is still a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = (
    "config",
    "core",
    "connectors",
    "router",
    "crm_sink",
    "simulator",
    "operator_console",
    "widget",
)
"""The application's packages."""

UPPER = ("connectors", "router", "crm_sink", "operator_console", "simulator", "bench")
"""Packages above ``core`` and ``config``."""

OUTSIDE = ("bench",)
"""Tools beside the application: they may import any of it, and nothing imports them."""

FORBIDDEN: dict[str, frozenset[str]] = {
    "core": frozenset(UPPER),
    "config": frozenset(UPPER),
    "connectors": frozenset({"router", "crm_sink", "operator_console", "simulator", "bench"}),
    "router": frozenset({"connectors", "crm_sink", "operator_console", "simulator", "bench"}),
    "crm_sink": frozenset({"connectors", "router", "operator_console", "simulator", "bench"}),
    "simulator": frozenset({"connectors", "crm_sink", "operator_console", "bench"}),
    "operator_console": frozenset({"bench"}),
    "widget": frozenset({"operator_console", "simulator", "bench"}),
}
"""For each package, the top-level packages its modules must not import."""


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute name ``path`` imports (``a.b`` and, for ``from a import b``, ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """Top-level package names ``path`` imports, with their line numbers."""
    for line, name in _imports(path):
        yield line, name.partition(".")[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Each application module and the application modules it imports."""
    paths = {_module_name(path): path for _package, path in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = set()
        for _line, imported in _imports(path):
            # ``from a import b`` names module ``a.b`` when that exists, else a name in ``a``.
            target = imported if imported in paths else imported.rpartition(".")[0]
            if target in paths and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _violations() -> list[str]:
    found: dict[str, None] = {}  # ordered and without repeats: one line may import three names
    for package, path in _modules():
        forbidden = FORBIDDEN.get(package, frozenset())
        for line, imported in _imported_packages(path):
            if imported in forbidden:
                found[f"{path.relative_to(ROOT)}:{line} imports {imported}"] = None
    return list(found)


def test_every_package_is_checked() -> None:
    """A new top-level package must be given its place in the layers here."""
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    placed = {*PACKAGES, *OUTSIDE}
    assert on_disk <= placed, on_disk - placed


def test_imports_flow_one_way() -> None:
    assert _violations() == []


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles(_module_graph()) == []


def test_the_cycle_check_finds_a_loop() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("config", "import router.schedule\n", ["config/x.py:1 imports router"]),
        ("core", "def f():\n    from crm_sink import rules\n", ["core/x.py:2 imports crm_sink"]),
        ("router", "from connectors.base import Connector\n", ["router/x.py:1 imports connectors"]),
        ("operator_console", "from router import decide\n", []),
        ("router", "from simulator import replay\n", ["router/x.py:1 imports simulator"]),
        ("config", "import simulator.engine\n", ["config/x.py:1 imports simulator"]),
        (
            "simulator",
            "from operator_console import app\n",
            ["simulator/x.py:1 imports operator_console"],
        ),
        ("simulator", "from router.decide import route\n", []),
        ("operator_console", "from simulator import compare\n", []),
        ("router", "from . import decide\n", []),
    ],
)
def test_the_check_sees_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, source: str, expected: list[str]
) -> None:
    """The checker itself: top-level and function-local imports are both seen."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "x.py").write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations() == expected

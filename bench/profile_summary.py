"""Summarise a py-spy profile of the hub taken by ``bench.e2e_webchat --profile-hub``.

    python -m bench.profile_summary PROFILE [--top N]

The file holds collapsed stacks ("frame;frame;... count"), recorded with ``--gil``, so each
sample is a moment of the hub's Python CPU. Two views:

* by library: each sample goes to the innermost frame that belongs to a known library (or to
  Openlines' own code), which answers "whose code burns the CPU";
* by entry point: each sample goes to the outermost Openlines function on its stack, which
  answers "on behalf of which part of the hub". SQLAlchemy runs the console's async sessions
  inside greenlets, whose stacks py-spy shows without the coroutine that started them; those samples
  are counted as "SQLAlchemy (greenlet, caller not visible)".
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

LIBRARIES: tuple[tuple[str, str], ...] = (
    ("sqlalchemy/", "SQLAlchemy"),
    ("aiosqlite/", "aiosqlite (thread hand-off)"),
    ("sqlite3/", "sqlite3"),
    ("asyncpg/", "asyncpg"),
    ("redis/", "redis-py"),
    ("aiohttp/", "aiohttp"),
    ("multidict/", "aiohttp"),
    ("yarl/", "aiohttp"),
    ("pydantic", "pydantic"),
    ("json/", "json"),
    ("argon2", "argon2"),
    ("logging/", "logging"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("threading.py", "threading"),
)
PROJECT = ("router/", "core/", "connectors/", "operator_console/", "crm_sink/", "widget/")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+):(?P<line>\d+)\)$")


def _file(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("file") if match else ""


def _func(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("func") if match else frame


def library_of(frames: list[str]) -> str:
    """The innermost known library (or Openlines itself) on a stack."""
    for frame in reversed(frames):
        path = _file(frame)
        for marker, name in LIBRARIES:
            if marker in path:
                return name
        if path.startswith(PROJECT):
            return "Openlines code"
    return "other"


def entry_of(frames: list[str]) -> str:
    """The outermost Openlines function on a stack, skipping the process's main() and the
    loop's runner (``operator_console.serving``)."""
    for frame in frames:
        path = _file(frame)
        if path.startswith(PROJECT) and not path.endswith(("cli.py", "serving.py")):
            return f"{path}:{_func(frame)}"
    if frames and "sqlalchemy/" in _file(frames[0]):
        return "SQLAlchemy (greenlet, caller not visible)"
    return f"no Openlines frame: {library_of(frames)}"


def summarise(path: Path, top: int) -> str:
    """The two views as text."""
    libraries: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    total = 0
    for raw in path.read_text().splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        total += n
        libraries[library_of(frames)] += n
        entries[entry_of(frames)] += n
    if not total:
        return "no samples"
    out = [f"{total} samples", "", "by library (innermost):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in libraries.most_common(top)]
    out += ["", "by entry point (outermost Openlines function):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in entries.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary")
    parser.add_argument("profile", type=Path, help="collapsed stacks from --profile-hub")
    parser.add_argument("--top", type=int, default=15, help="rows per view (default 15)")
    args = parser.parse_args(argv)
    print(summarise(args.profile, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Full-text search on SQLite: fill N messages, then time the console's search queries.

```sh
.venv/bin/python -m bench.search                     # 1 000 000 messages
.venv/bin/python -m bench.search --messages 200000   # a smaller run
.venv/bin/python -m bench.search --db /tmp/s.db --keep  # keep the file for a rerun
```

The database is made by the real migrations (FTS5 table and its triggers included), and the
messages go in through the ``messages`` table, so the fill time includes keeping the index.
The queries are the ones ``GET /api/search`` runs (``operator_console.search_api``), for an
admin (no visibility rule) and for an operator (their lines only), each repeated and reported
as median and 95th percentile. Words come from a fixed Russian and English vocabulary with a
Zipf-like spread, so some words are in most messages and others in very few.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.db import make_engine, make_sessionmaker, upgrade
from core.db.schema import Operator
from operator_console.search_api import _message_hits, _scoped, check_search

LINES = 4
OPERATORS_PER_LINE = 5
MESSAGES_PER_DIALOG = 40
BATCH = 20_000
NOW = "2026-01-01 00:00:00"
COMMON = ["привет", "заказ", "доставка", "hello", "order", "delivery", "спасибо", "thanks"]
SYLLABLES = ["ка", "ро", "ми", "ла", "то", "ne", "sa", "ri", "ko", "lu", "ва", "де", "ps", "zo"]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Common words first, then made-up ones: index i is drawn about 1/(i+1) as often."""
    words = list(COMMON)
    while len(words) < size:
        words.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))))
    return words


def texts(rng: random.Random, words: list[str], count: int) -> Iterator[str]:
    """``count`` message texts of 4–20 words each."""
    cumulative = list(itertools.accumulate(1 / (i + 1) for i in range(len(words))))
    for _ in range(count):
        picked = rng.choices(words, cum_weights=cumulative, k=rng.randint(4, 20))
        yield " ".join(picked).capitalize()


def fill(path: Path, messages: int, seed: int) -> float:
    """Lines, operators, clients, dialogs and ``messages`` messages; returns seconds taken."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    dialogs = max(1, messages // MESSAGES_PER_DIALOG)
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    _people(db)
    _dialogs(db, rng, words, dialogs)
    db.commit()
    rows: list[tuple[Any, ...]] = []
    for i, text in enumerate(texts(rng, words, messages), start=1):
        d = min((i - 1) // MESSAGES_PER_DIALOG + 1, dialogs)
        rows.append((i, d, (d % LINES) + 1, text, NOW))
        if len(rows) == BATCH:
            _insert(db, rows)
            rows = []
    _insert(db, rows)
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - started


def _people(db: sqlite3.Connection) -> None:
    """The lines, one channel each, and their operators."""
    now = NOW
    for line in range(1, LINES + 1):
        db.execute(
            "INSERT INTO lines (id, key, name, language, timezone, distribution, settings,"
            " created_at, source) VALUES (?, ?, ?, 'en', 'UTC', 'evenly', '{}', ?, 'bench')",
            (line, f"l{line}", f"Line {line}", now),
        )
        db.execute(
            "INSERT INTO channels (id, line_id, kind, key, name, config, enabled, "
            "created_at) VALUES (?, ?, ?, ?, ?, '{}', 0, ?)",
            (
                line,
                line,
                ["webchat", "telegram", "vk", "email"][line - 1],
                f"c{line}",
                f"C{line}",
                now,
            ),
        )
    for op in range(1, LINES * OPERATORS_PER_LINE + 1):
        db.execute(
            "INSERT INTO operators (id, login, name, password_hash, role, status, "
            "created_at) VALUES (?, ?, ?, '-', 'operator', 'offline', ?)",
            (op, f"op{op}", f"Operator {op}", now),
        )
        db.execute(
            "INSERT INTO line_operators (line_id, operator_id, position) VALUES (?, ?, 0)",
            ((op - 1) // OPERATORS_PER_LINE + 1, op),
        )


def _dialogs(db: sqlite3.Connection, rng: random.Random, words: list[str], dialogs: int) -> None:
    """One client per dialog; dialogs spread over the lines, a third of them open."""
    now = NOW
    for d in range(1, dialogs + 1):
        line, name = (d % LINES) + 1, " ".join(rng.choices(words[8:200], k=2)).title()
        db.execute(
            "INSERT INTO clients (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (d, name, now, now),
        )
        db.execute(
            "INSERT INTO client_identities (id, client_id, channel_id, external_id, "
            "display_name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (d, d, line, f"u{d}", name, now),
        )
        db.execute(
            "INSERT INTO dialogs (id, line_id, channel_id, client_id, identity_id, "
            "operator_id, status, opened_at, last_message_at, client_messages, "
            "operator_messages, offer_round) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
            (
                d,
                line,
                line,
                d,
                d,
                (line - 1) * OPERATORS_PER_LINE + 1 + d % 5,
                "closed" if d % 3 else "open",
                now,
                now,
            ),
        )


def _insert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    db.executemany(
        "INSERT INTO messages (id, dialog_id, channel_id, author, author_name, text, "
        "attachments, hidden, created_at) VALUES (?, ?, ?, 'client', '', ?, '[]', 0, ?)",
        rows,
    )
    db.commit()


async def time_queries(
    url: str, repeats: int, rare: str, middle: int
) -> list[tuple[str, float, float, int]]:
    """(label, median ms, p95 ms, hits) of each query shape."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    admin = Operator(id=0, role="admin", name="a", login="a", password_hash="-")
    operator = Operator(id=1, role="operator", name="o", login="o", password_hash="-")
    shapes: list[tuple[str, Operator, dict[str, str]]] = [
        ("common word, admin", admin, {"q": "привет"}),
        ("common word, from the middle", admin, {"q": "привет", "cursor": str(middle)}),
        ("two common words", admin, {"q": "заказ доставка"}),
        ("prefix 'дост'", admin, {"q": "дост"}),
        ("rare word", admin, {"q": rare}),
        ("no match", admin, {"q": "qqqzzz"}),
        ("common word, line filter", admin, {"q": "order", "line": "2"}),
        ("common word, status=open", admin, {"q": "order", "status": "open"}),
        ("common word, operator", operator, {"q": "hello"}),
        ("rare word, operator", operator, {"q": rare}),
    ]
    results = []
    async with sessions() as session:
        for label, who, params in shapes:
            found = check_search(params)
            query = _scoped(_message_hits(True, found), who, found)
            spent: list[float] = []
            hits = 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                hits = len((await session.execute(query)).all())
                spent.append((time.perf_counter() - t0) * 1000)
            spent.sort()
            p95 = spent[min(len(spent) - 1, int(len(spent) * 0.95))]
            results.append((label, statistics.median(spent), p95, hits))
    await engine.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    """Fill, time, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="SQLite file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="reuse --db if it exists")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path: Path = args.db or Path(tmp) / "search.db"
        url = f"sqlite+aiosqlite:///{path}"
        if not (args.keep and path.exists()):
            path.unlink(missing_ok=True)
            engine = make_engine(url)
            asyncio.run(_migrate(engine))
            seconds = fill(path, args.messages, args.seed)
            print(
                f"filled {args.messages} messages in {seconds:.1f} s "
                f"({args.messages / seconds:,.0f} rows/s, FTS triggers included); "
                f"file {path.stat().st_size / 2**20:.0f} MiB"
            )
        rare = vocabulary(random.Random(args.seed))[5000]
        print(f"{'query (page of 20)':34} {'median ms':>10} {'p95 ms':>8} {'rows':>5}")
        timed = asyncio.run(time_queries(url, args.repeats, rare, args.messages // 2))
        for label, median, p95, hits in timed:
            print(f"{label:34} {median:10.2f} {p95:8.2f} {hits:5}")
    return 0


async def _migrate(engine: Any) -> None:
    await upgrade(engine)
    await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``openlines`` command.

Only what every command needs is imported here: ``run`` imports the hub, and the tools their
own modules, once the arguments and settings are known to be good.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from config.lines import load_lines_file
from config.settings import Settings, config_path, load_settings
from core.logs import configure_logging
from operator_console.vendor_files import MissingVendorFiles, check_vendor_files

ROLES = ("all", "router", "connectors", "console", "crm")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openlines", description="Omnichannel messaging hub")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the hub")
    run.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="which components this process runs (default: all of them)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="console processes sharing the port (with --role console; default 1)",
    )
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8080)")
    run.add_argument("--data-dir", type=Path, help="where SQLite and the embedded Redis keep data")
    run.add_argument("--config", type=Path, help="settings file (default ./openlines.toml)")
    backup = sub.add_parser("backup", help="back the data up into DIR (while the hub runs)")
    backup.add_argument("dir", type=Path)
    restore = sub.add_parser("restore", help="restore a backup from DIR (hub stopped)")
    restore.add_argument("dir", type=Path)
    migrate = sub.add_parser("migrate", help="upgrade the database schema to this version")
    for tool in (backup, restore, migrate):
        tool.add_argument("--data-dir", type=Path, help="where SQLite and embedded Redis live")
        tool.add_argument("--config", type=Path, help="settings file (default ./openlines.toml)")
    return parser


async def _migrate(settings: Settings) -> None:
    from core.db import check_not_newer, current_revisions, make_engine, upgrade

    engine = make_engine(settings.effective_database_url)
    try:
        before = await check_not_newer(engine)
        await upgrade(engine)
        after = await current_revisions(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"The database is up to date (revision {', '.join(after)}).")
    else:
        print(f"Upgraded the database from {', '.join(before) or 'empty'} to {', '.join(after)}.")


def _tool(command: str, settings: Settings, directory: Path | None) -> int:
    """Run ``backup``, ``restore`` or ``migrate``; 2 with a message when it cannot."""
    from core.db import DatabaseTooNew
    from operator_console.backup import BackupError, do_backup, do_restore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if command == "migrate":
            asyncio.run(_migrate(settings))
        elif command == "backup" and directory is not None:
            asyncio.run(do_backup(settings, directory))
        elif directory is not None:
            asyncio.run(do_restore(settings, directory))
    except (BackupError, DatabaseTooNew) as exc:
        print(f"openlines {command}: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``openlines`` console script."""
    args = _parser().parse_args(argv)
    if args.config is not None:
        if not args.config.is_file():
            print(f"openlines: --config {args.config}: no such file", file=sys.stderr)
            return 2
        os.environ["OPENLINES_CONFIG"] = str(args.config)
    overrides = {
        k: v
        for k, v in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
            ("data_dir", args.data_dir),
        )
        if v is not None
    }
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        print(f"openlines: bad settings:\n{exc}", file=sys.stderr)
        return 2
    try:
        load_lines_file(config_path())  # checked again at start; here for a clean message
    except ValueError as exc:
        print(f"openlines: bad [[lines]]: {exc}", file=sys.stderr)
        return 2
    if args.command != "run":
        return _tool(args.command, settings, getattr(args, "dir", None))
    from operator_console.workers import workers_refused

    refused = workers_refused(settings, args.role, args.workers)
    if refused is not None:
        print(f"openlines: {refused}", file=sys.stderr)
        return 2
    if args.role in ("all", "console"):
        try:
            check_vendor_files()
        except MissingVendorFiles as exc:
            print(f"openlines: {exc}", file=sys.stderr)
            return 2
    configure_logging(settings.log_level, settings.log_format)
    with collector_paused():
        from operator_console.serving import run_hub
    if args.workers > 1:
        from operator_console.workers import run_workers

        return run_workers(settings, args.workers, run_hub)
    return run_hub(settings, args.role)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Import the hub with the cyclic collector off, then keep what was imported out of its
    sight for good.

    Importing the hub builds some 140 000 objects that live as long as the process, and almost
    no garbage (a full collection right after it finds ten objects). With the collector on,
    its 350-odd collections during the import walk that growing heap again and again: a tenth
    of the import's CPU. Frozen, no later collection walks them, the one that settles the heap
    once the hub serves included (``operator_console.serving.settle_heap``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())

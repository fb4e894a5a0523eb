"""Applies the ``[[lines]]`` of openlines.toml to the database at every start.

A line in the file is upserted by key and marked ``source = "file"``, which makes it read-only
in the console (the next start would undo any edit there). Its queue is written from operator
logins and ``group:NAME`` entries (groups are made in the console) and its channels are moved
onto it by channel key. Lines created in the console are never touched. A login, group or
channel key that does not exist yet is skipped with a warning rather than refusing to start:
operators, groups and channels are created in the console after the first start, and the next
start picks them up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from config.lines import GROUP_PREFIX, LineConfig, LinesFile
from core.db import SessionMaker
from core.db.routing_schema import OperatorGroup
from core.db.schema import Channel, Line, Operator
from core.roles import READ_ONLY_ROLES
from operator_console.line_queue import do_replace_queue

log = logging.getLogger(__name__)


async def do_apply_lines_file(sessions: SessionMaker, file: LinesFile) -> None:
    """Upsert every line of ``file`` with its queue and channels, in one transaction."""
    if not file.lines:
        return
    async with sessions() as session, session.begin():
        # An analyst is never on a line: their login counts as unknown to a queue.
        logins = {
            login: op_id
            for login, op_id in await session.execute(
                select(Operator.login, Operator.id).where(Operator.role.not_in(READ_ONLY_ROLES))
            )
        }
        groups = {
            name: group_id
            for name, group_id in await session.execute(
                select(OperatorGroup.name, OperatorGroup.id)
            )
        }
        for index, config in enumerate(file.lines):
            line = await session.scalar(select(Line).where(Line.key == config.key))
            if line is None:
                line = Line(key=config.key)
                session.add(line)
            _copy(line, config)
            await session.flush()
            await do_replace_queue(session, line.id, _places(index, config, logins, groups))
            for key in config.channels:
                channel = await session.scalar(select(Channel).where(Channel.key == key))
                if channel is None:
                    log.warning("lines[%d].channels: no channel with key %r yet", index, key)
                    continue
                channel.line_id = line.id
        await session.flush()
    log.info("applied %d line(s) from the settings file", len(file.lines))


@dataclass(frozen=True)
class _Place:
    """A place of a queue in the file, once its login or group name is known."""

    operator_id: int | None = None
    group_id: int | None = None
    max_open_dialogs: int | None = None


def _places(
    index: int, config: LineConfig, logins: dict[str, int], groups: dict[str, int]
) -> list[_Place]:
    """The queue of ``config`` in order, without the logins and groups that do not exist yet."""
    places: list[_Place] = []
    for login in config.queue:
        if login.startswith(GROUP_PREFIX):
            name = login.removeprefix(GROUP_PREFIX)
            if name not in groups:
                log.warning("lines[%d].queue: no group named %r yet", index, name)
                continue
            places.append(_Place(group_id=groups[name]))
            continue
        if login not in logins:
            log.warning("lines[%d].queue: no operator with login %r yet", index, login)
            continue
        places.append(_Place(operator_id=logins[login]))
    return places


def _copy(line: Line, config: LineConfig) -> None:
    line.name = config.name
    line.language = config.language
    line.timezone = config.timezone
    line.distribution = config.mode
    line.settings = config.settings_json()
    line.source = "file"

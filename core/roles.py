"""The roles of the people who sign in to the console (not the process roles of ``run``)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "OPERATOR_ROLES",
    "READ_ONLY_ROLES",
    "STATS_READER_ROLES",
    "SUPERVISOR_ROLES",
    "OperatorRole",
]

OperatorRole = Literal["operator", "analyst", "manager", "admin"]
"""What an operator's account may do: answer dialogs, or read every line's statistics (and
change nothing), or also supervise, or also administer."""

OPERATOR_ROLES: tuple[OperatorRole, ...] = get_args(OperatorRole)
"""Every role."""

SUPERVISOR_ROLES: tuple[OperatorRole, ...] = ("admin", "manager")
"""Roles that see every dialog and client, take dialogs over and are told of every message."""

READ_ONLY_ROLES: tuple[OperatorRole, ...] = ("analyst",)
"""Roles that change nothing: every state-changing endpoint refuses them, they are never in
a line's queue or an operator group, and they never get dialogs."""

STATS_READER_ROLES: tuple[OperatorRole, ...] = ("admin", "analyst")
"""Roles that read the statistics of every line."""

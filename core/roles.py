"""The roles of the people who sign in to the console (not the process roles of ``run``)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["OPERATOR_ROLES", "SUPERVISOR_ROLES", "OperatorRole"]

OperatorRole = Literal["operator", "manager", "admin"]
"""What an operator's account may do: answer dialogs, or also supervise, or also administer."""

OPERATOR_ROLES: tuple[OperatorRole, ...] = get_args(OperatorRole)
"""Every role, in order of growing rights."""

SUPERVISOR_ROLES: tuple[OperatorRole, ...] = ("admin", "manager")
"""Roles that see every dialog and client, take dialogs over and are told of every message."""

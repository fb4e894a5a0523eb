"""How operators look to the console: one mapping for the REST answers and the live socket."""

from __future__ import annotations

from typing import Any

from core.db.schema import Operator


def operator_json(op: Operator) -> dict[str, Any]:
    """The console's view of an operator."""
    return {"id": op.id, "login": op.login, "name": op.name, "role": op.role, "status": op.status}

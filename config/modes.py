"""How a line distributes new dialogs, and the limits of its no-answer timeout.

The line schema in ``config.lines`` validates these; ``router.distribution`` decides with them.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["NO_ANSWER_SECONDS_MAX", "NO_ANSWER_SECONDS_MIN", "Mode"]

Mode = Literal["evenly", "sequence", "all"]
"""How a line distributes new dialogs among its queue."""

NO_ANSWER_SECONDS_MIN = 60
"""The shortest wait for an operator to answer an offer before it passes on."""
NO_ANSWER_SECONDS_MAX = 43200
"""The longest such wait: twelve hours."""

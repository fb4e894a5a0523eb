"""The statistics' stored figures of a dialog (see ``core.dialog_figures``): seconds to the
first answer, in working time and in all, seconds to the close, and the local date, weekday
and hour of the start on the dialog's line. Existing dialogs get them here; the router keeps
them from then on. A covering index holds every column the summary and the charts read.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("first_response_s", sa.Integer()),
    ("duration_s", sa.Integer()),
    ("business_frt_s", sa.Integer()),
    ("opened_day", sa.String(10)),
    ("opened_weekday", sa.SmallInteger()),
    ("opened_hour", sa.SmallInteger()),
)
INDEX_COLUMNS = (
    "line_id",
    "opened_at",
    "began_in_hours",
    "channel_id",
    "operator_id",
    "outcome",
    "rating",
    "client_messages",
    "operator_messages",
    "first_response_s",
    "business_frt_s",
    "duration_s",
    "opened_day",
    "opened_weekday",
    "opened_hour",
)
"""Every column the summary and the charts read: a date range of the lines in scope is read
from the index alone."""
BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("dialogs") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    _backfill(op.get_bind())
    op.create_index("ix_dialogs_line_figures", "dialogs", list(INDEX_COLUMNS))


def _instant(value: Any) -> datetime | None:
    """A stored instant as an aware datetime (SQLite hands back text, naive in UTC)."""
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, datetime)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _backfill(bind: sa.Connection) -> None:
    lines = {}
    for line_id, timezone, settings in bind.execute(
        sa.text("SELECT id, timezone, settings FROM lines")
    ):
        zone = line_zone(line_id, timezone)
        if isinstance(settings, str):
            settings = json.loads(settings)
        lines[line_id] = (zone, line_schedule(settings, zone))
    sets = ", ".join(f"{name} = :{name}" for name in FIGURES)
    update = sa.text(f"UPDATE dialogs SET {sets} WHERE id = :id")
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, line_id, opened_at, first_response_at, closed_at FROM dialogs"
                " WHERE id > :last ORDER BY id LIMIT :size"
            ),
            {"last": last, "size": BATCH},
        ).all()
        if not rows:
            return
        values = []
        for dialog_id, line_id, opened, first, closed in rows:
            zone, schedule = lines[line_id]
            opened_at = _instant(opened)
            assert opened_at is not None
            figures = dialog_figures(opened_at, _instant(first), _instant(closed), zone, schedule)
            values.append({"id": dialog_id, **dict(zip(FIGURES, figures, strict=True))})
        bind.execute(update, values)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_dialogs_line_figures", table_name="dialogs")
    with op.batch_alter_table("dialogs") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)

"""The query strings of the statistics endpoints, validated by pydantic models.

Every endpoint takes the same filters (``StatsFilters``); the dialog report adds its sort and
page, the summary its grouping. A bad or unknown parameter answers 400 naming it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.limits import RowId
from operator_console.auth import http_error

MAX_DAYS = 3660
"""The longest date range a report covers: ten years of days."""

FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9998, 12, 31)
"""The dates a filter may name: every dialog falls between them, and a line's midnight on
either (in any time zone, a day later) is still a ``datetime``, where ``date.min`` and
``date.max`` overflow."""

LocalDate = Annotated[date, Field(ge=FIRST_DATE, le=LAST_DATE)]

Status = Literal["waiting", "open", "closed"]
Outcome = Literal["answered", "missed", "out_of_hours", "client_left"]
SortKey = Literal["started_at", "first_response_s", "duration_s", "last_activity_at", "rating"]
GroupBy = Literal["line", "channel", "operator"]


class StatsFilters(BaseModel):
    """The filters every statistics endpoint takes. Dates are local dates of each dialog's
    line (its time zone), inclusive; ``day``, ``weekday`` and ``hour`` drill down into one
    cell of a chart, in the line's local time too."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    date_from: LocalDate | None = Field(default=None, alias="from")
    date_to: LocalDate | None = Field(default=None, alias="to")
    line_id: RowId | None = None
    channel_id: RowId | None = None
    operator_id: RowId | None = None
    status: Status | None = None
    in_hours: bool | None = None
    """Whether the dialog began within its line's working hours."""
    outcome: Outcome | None = None
    rating_min: int | None = Field(default=None, ge=1, le=5)
    rating_max: int | None = Field(default=None, ge=1, le=5)
    day: LocalDate | None = None
    weekday: int | None = Field(default=None, ge=0, le=6)
    """0 is Monday."""
    hour: int | None = Field(default=None, ge=0, le=23)
    missed: bool | None = None
    """True: only dialogs nobody answered (outcome ``missed``); false: all others."""

    @model_validator(mode="after")
    def _ranges(self) -> StatsFilters:
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise ValueError("to: before from")
            if self.date_to - self.date_from > timedelta(days=MAX_DAYS):
                raise ValueError(f"to: at most {MAX_DAYS} days after from")
        if self.rating_min and self.rating_max and self.rating_max < self.rating_min:
            raise ValueError("rating_max: below rating_min")
        return self

    def days(self) -> tuple[date | None, date | None]:
        """The first and last local date asked for (``day`` narrows ``from``..``to``)."""
        first, last = self.date_from, self.date_to
        if self.day is not None:
            first = max(first, self.day) if first else self.day
            last = min(last, self.day) if last else self.day
        return first, last


class ReportQuery(StatsFilters):
    """The dialog report: filters, sort order and one page (keyset, never OFFSET)."""

    sort: SortKey = "started_at"
    order: Literal["desc", "asc"] = "desc"
    after: str | None = Field(default=None, max_length=512)
    """The ``next`` cursor of the previous page."""
    limit: int = Field(default=50, ge=1, le=500)


class SummaryQuery(StatsFilters):
    """The aggregates: filters, the grouping of ``groups`` and whether first response time
    counts only the line's working time."""

    group_by: GroupBy = "line"
    business_time: bool = False


Q = TypeVar("Q", bound=StatsFilters)


def read_query(request: web.Request, model: type[Q]) -> Q:
    """The request's query string as ``model``, or a 400 naming the bad parameter."""
    raw = {key: request.query.getall(key)[-1] for key in request.query}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        reason = f"{where}: {message}" if where else message
        raise http_error(web.HTTPBadRequest, reason) from None

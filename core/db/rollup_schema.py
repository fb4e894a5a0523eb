"""The daily rollup of the statistics: what the dialogs of one local day add up to, per line,
channel, responsible operator and whether they began in working hours. Kept by the hub
session's ``before_flush`` hook (``core.db.rollup``) in the same transaction as the dialog
writes (the router's at its commit); migration ``0018_stats_rollup`` makes and fills it,
and ``0022_stats_month_responses`` adds the monthly first response counts.

A key is never null, so that it can be a primary key on both databases: ``operator_id`` 0
stands for "nobody" and ``in_hours`` is 1, 0, or -1 when it is not known. A row whose dialogs
all left it is deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import Base

NOBODY = 0
"""``operator_id`` of dialogs nobody is responsible for."""
UNKNOWN_HOURS = -1
"""``in_hours`` of dialogs not known to have begun in or out of working hours."""

KEY = ("day", "line_id", "channel_id", "operator_id", "in_hours")
"""A rollup row's key: the local day of the dialogs' start on their line, and the rest."""

HOURS = tuple(f"hour_{hour:02d}" for hour in range(24))
"""The counts of dialogs by the local hour of their start."""

STARS = tuple(f"star_{star}" for star in range(1, 6))
"""The counts of ratings of each star."""

SUMMED = (
    "dialogs",
    "missed",
    "closed",
    "duration_sum",
    "messages",
    "rated",
    "rating_sum",
    "good",
    *STARS,
    *HOURS,
)
"""The additive columns of ``DialogDay``, in the order ``core.db.rollup`` counts them."""


class DialogDay(Base):
    """The sums of the dialogs of one key (see ``KEY``): how many, missed (outcome ``missed``),
    closed and their seconds open, client plus operator messages, ratings (how many, their
    sum, those of 4 or 5, and per star) and the dialogs per local hour of their start."""

    __tablename__ = "stats_dialog_days"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    line_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    in_hours: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    """The day's weekday, 0 for Monday (for the heatmap)."""
    dialogs: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    duration_sum: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    good: Mapped[int] = mapped_column(Integer)
    star_1: Mapped[int] = mapped_column(Integer)
    star_2: Mapped[int] = mapped_column(Integer)
    star_3: Mapped[int] = mapped_column(Integer)
    star_4: Mapped[int] = mapped_column(Integer)
    star_5: Mapped[int] = mapped_column(Integer)
    hour_00: Mapped[int] = mapped_column(Integer)
    hour_01: Mapped[int] = mapped_column(Integer)
    hour_02: Mapped[int] = mapped_column(Integer)
    hour_03: Mapped[int] = mapped_column(Integer)
    hour_04: Mapped[int] = mapped_column(Integer)
    hour_05: Mapped[int] = mapped_column(Integer)
    hour_06: Mapped[int] = mapped_column(Integer)
    hour_07: Mapped[int] = mapped_column(Integer)
    hour_08: Mapped[int] = mapped_column(Integer)
    hour_09: Mapped[int] = mapped_column(Integer)
    hour_10: Mapped[int] = mapped_column(Integer)
    hour_11: Mapped[int] = mapped_column(Integer)
    hour_12: Mapped[int] = mapped_column(Integer)
    hour_13: Mapped[int] = mapped_column(Integer)
    hour_14: Mapped[int] = mapped_column(Integer)
    hour_15: Mapped[int] = mapped_column(Integer)
    hour_16: Mapped[int] = mapped_column(Integer)
    hour_17: Mapped[int] = mapped_column(Integer)
    hour_18: Mapped[int] = mapped_column(Integer)
    hour_19: Mapped[int] = mapped_column(Integer)
    hour_20: Mapped[int] = mapped_column(Integer)
    hour_21: Mapped[int] = mapped_column(Integer)
    hour_22: Mapped[int] = mapped_column(Integer)
    hour_23: Mapped[int] = mapped_column(Integer)


class DialogDayResponse(Base):
    """How many dialogs of one key had a first response of exactly ``seconds`` (whole
    seconds; ``business``: counting only the line's working seconds), so that the nearest
    rank percentiles of any set of keys are exact."""

    __tablename__ = "stats_dialog_day_responses"
    # Which seconds first: a summary reads one kind over a range of days.
    business: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    line_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    in_hours: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialogs: Mapped[int] = mapped_column(Integer)


class FigureRecount(Base):
    """A line whose dialogs' stored figures are being counted again in its current time zone
    and working hours (``core.db.recount``), after either changed. ``after_dialog_id`` is how
    far the recount has come: the dialogs of the line up to that id are done. A new change
    while it runs starts it over; the row is deleted when the last dialog is done."""

    __tablename__ = "stats_figure_recounts"
    line_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    after_dialog_id: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column()


GRAINS = ("channel", "operator")
"""The two ways ``DialogMonthResponse`` sums a month: per channel (over every responsible
operator) or per responsible operator (over every channel)."""


class DialogMonthResponse(Base):
    """The first response counts of ``DialogDayResponse`` summed over a local month (``month``
    is ``YYYY-MM``) and over one more key: ``grain`` ``channel`` rows hold the counts per
    channel of every operator, ``operator`` rows per responsible operator (``NOBODY`` for
    none) on every channel; ``part_id`` is that channel's or operator's id. A summary over
    whole months reads these rather than several times as many daily rows, and its
    percentiles stay exact: a count is still per whole second."""

    __tablename__ = "stats_dialog_month_responses"
    business: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    line_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    in_hours: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialogs: Mapped[int] = mapped_column(Integer)

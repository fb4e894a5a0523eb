"""Working hours of a line: is it open at an instant, and when does it open next.

Pure: nothing here reads the clock; the instant to judge is passed in, timezone-aware.

How wall-clock intervals become instants
----------------------------------------
Intervals are written in the line's local wall-clock time. On a local date an interval opens
at the first instant the clock shows its start time or later, and closes at the first instant
the clock shows its end time or later (on the next date when ``end <= start``). This one rule
settles the daylight-saving days:

* Spring forward (Europe/Berlin 2026-03-29, 02:00 -> 03:00): a start or end inside the missing
  hour happens at 03:00, when the clock jumps past it. 01:30-02:30 is open from 01:30 CET to
  03:00 CEST, thirty real minutes; an interval wholly inside the missing hour does not open.
* Fall back (Europe/Berlin 2026-10-25, 03:00 -> 02:00): a time the clock shows twice counts at
  its first showing, so 01:30-02:30 closes at the first 02:30 and does not reopen when the
  clock repeats the hour, while a night shift 22:00-06:00 that night lasts nine real hours.

Every interval on every date is therefore one contiguous span of real time.

An interval belongs to the date it starts on: a holiday closes the intervals that start on
it, but a night shift that started the evening before runs on past midnight into the holiday.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "SEARCH_DAYS",
    "WEEKDAYS",
    "DateRange",
    "Interval",
    "Schedule",
    "YearlyDate",
    "check_schedule",
    "is_holiday",
    "is_open",
    "next_opening",
    "open_spans",
    "working_seconds",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of a schedule config, in ``date.weekday()`` order."""

SEARCH_DAYS = 366
"""How many days ahead ``next_opening`` looks before it gives up."""

_ONE_DAY = timedelta(days=1)
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Interval:
    """Working time within a day, in local wall-clock time (no tzinfo).

    ``end <= start`` means the interval runs past midnight and ends at ``end`` on the next
    date, so ``end == start`` is a full 24 hours (written ``00:00``-``24:00`` in config).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("interval times are local wall-clock times and take no tzinfo")

    @property
    def crosses_midnight(self) -> bool:
        """Whether the interval ends on the date after the one it starts on."""
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class DateRange:
    """Holidays from ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"date range ends ({self.last}) before it starts ({self.first})")


@dataclass(frozen=True, slots=True)
class YearlyDate:
    """A holiday on the same day every year; 29 February counts in leap years only."""

    month: int
    day: int

    def __post_init__(self) -> None:
        date(2000, self.month, self.day)  # a leap year, so 29.02 passes; raises ValueError


@dataclass(frozen=True, slots=True)
class Schedule:
    """The working hours of a line.

    ``week`` holds seven tuples of intervals, Monday first; a weekday with no intervals is a
    day off. Holidays are single dates, inclusive ranges, and days recurring every year.
    """

    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = frozenset()
    holiday_ranges: tuple[DateRange, ...] = ()
    yearly_holidays: frozenset[YearlyDate] = frozenset()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError(f"week needs 7 days of intervals, got {len(self.week)}")
        _zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return _zone(self.timezone)


def is_holiday(schedule: Schedule, day: date) -> bool:
    """Whether ``day`` (a local date) is a holiday of ``schedule``."""
    return (
        day in schedule.holidays
        or YearlyDate(day.month, day.day) in schedule.yearly_holidays
        or any(r.first <= day <= r.last for r in schedule.holiday_ranges)
    )


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether the line is open at the instant ``at`` (timezone-aware)."""
    at = _as_utc(at)
    day = at.astimezone(schedule.zone).date()
    # A span covering `at` starts on its local date or the day before (a night shift); the
    # day after is checked too for zones whose clocks fall back across midnight.
    return any(
        opens <= at < closes
        for start_day in (day - _ONE_DAY, day, day + _ONE_DAY)
        for opens, closes in _spans_starting_on(schedule, start_day)
    )


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """The earliest instant at or after ``at`` when the line is open, in UTC.

    Returns ``at`` itself (in UTC) when the line is open then, and None when it does not open
    on any of the next ``SEARCH_DAYS`` local dates.
    """
    at = _as_utc(at)
    day = at.astimezone(schedule.zone).date()
    for offset in range(-1, SEARCH_DAYS + 1):
        starts = [
            max(opens, at)
            for opens, closes in _spans_starting_on(schedule, day + timedelta(days=offset))
            if closes > at
        ]
        # Spans of a later date all open after every span of an earlier one, so the first
        # date with a usable span holds the answer.
        if starts:
            return min(starts)
    return None


def working_seconds(schedule: Schedule, start: datetime, end: datetime) -> float:
    """How many seconds of ``[start, end)`` the line is open (0 when ``end <= start``).

    Business time: a first response given at 09:10 to a message of 18:55 the evening before
    on a 09:00-19:00 line took fifteen minutes, not fourteen hours.
    """
    return sum(
        (closes - opens).total_seconds() for opens, closes in open_spans(schedule, start, end)
    )


def open_spans(
    schedule: Schedule, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The open time within ``[start, end)`` as disjoint [opens, closes) spans in UTC, in order.

    A night shift running into the next morning's interval makes one span, not two.
    """
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        return []
    zone = schedule.zone
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    spans = sorted(
        (max(opens, start), min(closes, end))
        for offset in range(-1, (last - first).days + 2)
        for opens, closes in _spans_starting_on(schedule, first + timedelta(days=offset))
        if opens < end and closes > start
    )
    # Intervals of one date never overlap, but a night shift may run into the next morning's.
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in spans:
        if merged and opens <= merged[-1][1]:
            if closes > merged[-1][1]:
                merged[-1] = (merged[-1][0], closes)
        else:
            merged.append((opens, closes))
    return merged


def _spans_starting_on(schedule: Schedule, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The non-empty [opens, closes) spans in UTC of the intervals starting on ``day``."""
    if is_holiday(schedule, day):
        return
    zone = schedule.zone
    for interval in schedule.week[day.weekday()]:
        end_day = day + _ONE_DAY if interval.crosses_midnight else day
        opens = _first_instant_showing(datetime.combine(day, interval.start), zone)
        closes = _first_instant_showing(datetime.combine(end_day, interval.end), zone)
        if opens < closes:  # empty when both ends fall into one spring-forward gap
            yield opens, closes


def _first_instant_showing(local: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``zone`` shows ``local`` or later."""
    # fold=0 reads the wall time with the offset before a transition, fold=1 with the one
    # after. They agree for ordinary times; fold=0 is the earlier instant for a time shown
    # twice (its first showing), and the later one for a time the clock skips.
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first <= second:
        return first
    return _clock_jump(second, first, zone)


def _clock_jump(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (before, after] where the UTC offset of ``zone`` changes."""
    # tzdata transitions fall on whole seconds; bisect on integer timestamps.
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    offset_before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _as_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


# --- config --------------------------------------------------------------------------------

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_YEARLY = re.compile(r"(\d{1,2})\.(\d{1,2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOLIDAY_FORMS = "YYYY-MM-DD, DD.MM.YYYY, DD.MM (every year) or a range FIRST..LAST"


def check_schedule(raw: Mapping[str, object], *, where: str = "schedule") -> Schedule:
    """Validate a schedule config table and build the ``Schedule``.

    The table (e.g. from ``openlines.toml``)::

        timezone = "Europe/Berlin"
        holidays = ["01.01", "25.12", "2026-04-03", "2026-12-24..2026-12-31",
                    {from = 2026-08-03, to = 2026-08-14}]
        [week]
        mon = ["09:00-13:00", "14:00-18:00"]
        fri = [["22:00", "06:00"]]

    Weekdays are ``mon``..``sun`` (or full names); a missing weekday is a day off. Times are
    ``HH:MM``; ``24:00`` may end an interval. Raises ValueError naming the offending field,
    prefixed with ``where``.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table, got {type(raw).__name__}")
    for key in raw:
        if key not in ("timezone", "week", "holidays"):
            raise ValueError(f"{where}.{key}: unknown field (expected timezone, week, holidays)")
    timezone = raw.get("timezone")
    if not isinstance(timezone, str):
        raise ValueError(f"{where}.timezone: required, a time zone name like 'Europe/Berlin'")
    try:
        _zone(timezone)
    except ValueError as error:
        raise ValueError(f"{where}.timezone: {error}") from None
    if "week" not in raw:
        raise ValueError(f"{where}.week: required, the intervals of each working weekday")
    week = _check_week(raw["week"], f"{where}.week")
    dates: set[date] = set()
    ranges: list[DateRange] = []
    yearly: set[YearlyDate] = set()
    for index, item in enumerate(_check_list(raw.get("holidays", []), f"{where}.holidays")):
        holiday = _check_holiday(item, f"{where}.holidays[{index}]")
        if isinstance(holiday, DateRange):
            ranges.append(holiday)
        elif isinstance(holiday, YearlyDate):
            yearly.add(holiday)
        else:
            dates.add(holiday)
    return Schedule(timezone, week, frozenset(dates), tuple(ranges), frozenset(yearly))


def _check_week(raw: object, where: str) -> tuple[tuple[Interval, ...], ...]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table of weekdays, got {type(raw).__name__}")
    week: list[tuple[Interval, ...] | None] = [None] * 7
    for key, items in raw.items():
        name = str(key).lower()
        if name in WEEKDAYS:
            weekday = WEEKDAYS.index(name)
        elif name in _FULL_NAMES:
            weekday = _FULL_NAMES.index(name)
        else:
            raise ValueError(f"{where}.{key}: unknown weekday (expected one of mon..sun)")
        if week[weekday] is not None:
            raise ValueError(f"{where}.{key}: {WEEKDAYS[weekday]} is given twice")
        path = f"{where}.{key}"
        day = tuple(
            _check_interval(item, f"{path}[{i}]") for i, item in enumerate(_check_list(items, path))
        )
        _check_no_overlap(day, path)
        week[weekday] = day
    return tuple(day or () for day in week)


def _check_interval(raw: object, where: str) -> Interval:
    if isinstance(raw, str):
        parts: Sequence[object] = re.split(r"\s*[-–]\s*", raw.strip())
    elif isinstance(raw, list | tuple):
        parts = raw
    else:
        raise ValueError(f"{where}: expected 'HH:MM-HH:MM' or [start, end], got {raw!r}")
    if len(parts) != 2:
        raise ValueError(f"{where}: expected 'HH:MM-HH:MM' or [start, end], got {raw!r}")
    start = _check_time(parts[0], f"{where}.start", may_be_24=False)
    end = _check_time(parts[1], f"{where}.end", may_be_24=True)
    # "24:00" parses to 00:00 and is what makes a full day 00:00-24:00 expressible; any
    # other equal pair is an empty interval, almost surely a typo.
    if start == end and not (isinstance(parts[1], str) and parts[1].strip() == "24:00"):
        raise ValueError(f"{where}: empty interval, start equals end ({raw!r})")
    return Interval(start, end)


def _check_time(raw: object, where: str, *, may_be_24: bool) -> time:
    if isinstance(raw, time) and raw.tzinfo is None:
        return raw
    match = _TIME.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match:
        hour, minute = int(match[1]), int(match[2])
        if hour == 24 and minute == 0 and may_be_24:
            return time(0, 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    expected = "HH:MM from 00:00 to 23:59" + (", or 24:00" if may_be_24 else "")
    raise ValueError(f"{where}: bad time {raw!r}, expected {expected}")


def _check_no_overlap(day: tuple[Interval, ...], where: str) -> None:
    def seconds(t: time) -> int:
        return t.hour * 3600 + t.minute * 60 + t.second

    spans = []
    for interval in day:
        start = seconds(interval.start)
        length = (seconds(interval.end) - start) % 86400 or 86400
        spans.append((start, start + length, interval))
    spans.sort(key=lambda span: span[0])
    for (_, end, earlier), (start, _, later) in pairwise(spans):
        if start < end:
            raise ValueError(f"{where}: intervals {_show(earlier)} and {_show(later)} overlap")


def _show(interval: Interval) -> str:
    return f"{interval.start:%H:%M}-{interval.end:%H:%M}"


def _check_list(raw: object, where: str) -> Sequence[object]:
    if not isinstance(raw, list | tuple):
        raise ValueError(f"{where}: expected a list, got {type(raw).__name__}")
    return raw


def _check_holiday(raw: object, where: str) -> date | DateRange | YearlyDate:
    if isinstance(raw, Mapping):
        if set(raw) != {"from", "to"}:
            raise ValueError(f"{where}: a range needs exactly the fields 'from' and 'to'")
        first = _check_date(raw["from"], f"{where}.from")
        last = _check_date(raw["to"], f"{where}.to")
    elif isinstance(raw, str) and ".." in raw:
        head, _, tail = raw.partition("..")
        first, last = _check_date(head, where), _check_date(tail, where)
    elif isinstance(raw, str) and (match := _YEARLY.fullmatch(raw.strip())):
        try:
            return YearlyDate(month=int(match[2]), day=int(match[1]))
        except ValueError:
            raise ValueError(f"{where}: no such day {raw!r}, expected DD.MM") from None
    else:
        return _check_date(raw, where)
    if last < first:
        raise ValueError(f"{where}: range ends ({last}) before it starts ({first})")
    return DateRange(first, last)


def _check_date(raw: object, where: str) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        dotted = _DOTTED.fullmatch(text)
        try:
            if dotted:
                return date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
            if _ISO.fullmatch(text):
                return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{where}: no such date {raw!r}") from None
    raise ValueError(f"{where}: bad date {raw!r}, expected {_HOLIDAY_FORMS}")

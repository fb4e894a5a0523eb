"""Working hours: is_open / next_opening on frozen instants, and the config check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.schedule import (
    DateRange,
    Interval,
    Schedule,
    YearlyDate,
    check_schedule,
    is_holiday,
    is_open,
    next_opening,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time (first showing if ambiguous), as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def schedule(
    timezone: str = "Europe/Berlin", /, *, holidays: Sequence[object] = (), **week: list[str]
) -> Schedule:
    """A schedule from config, e.g. ``schedule(mon=["09:00-17:00"], holidays=["25.12"])``."""
    return check_schedule({"timezone": timezone, "week": week, "holidays": list(holidays)})


OFFICE = schedule(**{day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")})


# --- plain days ----------------------------------------------------------------------------


def test_quarter_past_ten_is_open_inside_nine_to_five() -> None:
    # Regression: Chatwoot compared hours and minutes separately, so 10:15 failed the
    # "minute <= 0" check against 17:00 and counted as closed.
    assert is_open(OFFICE, local(BERLIN, 2026, 6, 10, 10, 15))


def test_minutes_count_as_part_of_the_time_not_separately() -> None:
    half_past = schedule(wed=["09:30-17:15"])
    assert is_open(half_past, local(BERLIN, 2026, 6, 10, 12, 10))  # minute 10 < 30
    assert is_open(half_past, local(BERLIN, 2026, 6, 10, 12, 50))  # minute 50 > 15
    assert not is_open(half_past, local(BERLIN, 2026, 6, 10, 9, 29))
    assert is_open(half_past, local(BERLIN, 2026, 6, 10, 9, 30))
    assert is_open(half_past, local(BERLIN, 2026, 6, 10, 17, 14) + timedelta(seconds=59))
    assert not is_open(half_past, local(BERLIN, 2026, 6, 10, 17, 15))


def test_interval_includes_its_start_and_excludes_its_end() -> None:
    assert not is_open(OFFICE, local(BERLIN, 2026, 6, 10, 8, 59))
    assert is_open(OFFICE, local(BERLIN, 2026, 6, 10, 9, 0))
    assert not is_open(OFFICE, local(BERLIN, 2026, 6, 10, 17, 0))


def test_days_off_are_closed() -> None:
    assert not is_open(OFFICE, local(BERLIN, 2026, 6, 13, 12))  # Saturday
    assert next_opening(OFFICE, local(BERLIN, 2026, 6, 13, 12)) == utc(2026, 6, 15, 7)


def test_lunch_break_closes_between_two_intervals() -> None:
    lunch = schedule(wed=["09:00-13:00", "14:00-18:00"])
    assert is_open(lunch, local(BERLIN, 2026, 6, 10, 12, 59))
    assert not is_open(lunch, local(BERLIN, 2026, 6, 10, 13, 0))
    assert not is_open(lunch, local(BERLIN, 2026, 6, 10, 13, 59))
    assert is_open(lunch, local(BERLIN, 2026, 6, 10, 14, 0))
    assert not is_open(lunch, local(BERLIN, 2026, 6, 10, 18, 0))
    assert next_opening(lunch, local(BERLIN, 2026, 6, 10, 13, 10)) == utc(2026, 6, 10, 12)


def test_next_opening_is_now_while_open() -> None:
    at = local(BERLIN, 2026, 6, 10, 10, 15)
    assert next_opening(OFFICE, at) == at.astimezone(UTC)
    assert next_opening(OFFICE, at).tzinfo is UTC  # type: ignore[union-attr]


def test_instants_may_come_in_any_timezone() -> None:
    at = datetime(2026, 6, 10, 4, 15, tzinfo=NEW_YORK)  # 10:15 in Berlin
    assert is_open(OFFICE, at)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2026, 6, 10, 10, 15))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(OFFICE, datetime(2026, 6, 10, 10, 15))


def test_never_open_gives_no_next_opening() -> None:
    assert next_opening(schedule(), utc(2026, 6, 10)) is None
    closed_for_years = schedule(mon=["09:00-17:00"], holidays=["2026-01-01..2028-12-31"])
    assert next_opening(closed_for_years, utc(2026, 6, 10)) is None


# --- across midnight ------------------------------------------------------------------------

NIGHT = schedule(mon=["22:00-06:00"])  # 2026-06-08 is a Monday


def test_night_shift_runs_past_midnight() -> None:
    assert not is_open(NIGHT, local(BERLIN, 2026, 6, 8, 21, 59))
    assert is_open(NIGHT, local(BERLIN, 2026, 6, 8, 23, 0))
    assert is_open(NIGHT, local(BERLIN, 2026, 6, 9, 0, 0))
    assert is_open(NIGHT, local(BERLIN, 2026, 6, 9, 5, 0))
    assert not is_open(NIGHT, local(BERLIN, 2026, 6, 9, 6, 0))


def test_early_morning_belongs_to_the_previous_days_shift() -> None:
    # Monday 05:00 would be inside "22:00-06:00" read naively, but Sunday has no shift.
    assert not is_open(NIGHT, local(BERLIN, 2026, 6, 8, 5, 0))
    assert next_opening(NIGHT, local(BERLIN, 2026, 6, 8, 5, 0)) == utc(2026, 6, 8, 20)


def test_night_shift_wraps_from_sunday_into_monday() -> None:
    sunday_night = schedule(sun=["22:00-06:00"])
    assert is_open(sunday_night, local(BERLIN, 2026, 6, 8, 5, 0))


def test_holiday_after_midnight_does_not_cut_the_night_shift_short() -> None:
    tuesday_off = schedule(mon=["22:00-06:00"], tue=["09:00-17:00"], holidays=["2026-06-09"])
    assert is_open(tuesday_off, local(BERLIN, 2026, 6, 9, 5, 0))
    assert not is_open(tuesday_off, local(BERLIN, 2026, 6, 9, 10, 0))


def test_holiday_closes_the_whole_shift_that_starts_on_it() -> None:
    monday_off = schedule(mon=["22:00-06:00"], holidays=["2026-06-08"])
    assert not is_open(monday_off, local(BERLIN, 2026, 6, 8, 23, 0))
    assert not is_open(monday_off, local(BERLIN, 2026, 6, 9, 5, 0))


def test_midnight_as_24_00_ends_the_day() -> None:
    evening = schedule(wed=["18:00-24:00"])
    assert is_open(evening, local(BERLIN, 2026, 6, 10, 23, 59))
    assert not is_open(evening, local(BERLIN, 2026, 6, 11, 0, 0))


def test_full_day_is_open_around_the_clock() -> None:
    always = schedule(
        **{day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    at = utc(2026, 3, 28, 20)  # through the spring-forward night in Berlin
    while at < utc(2026, 3, 30, 2):
        assert is_open(always, at), at
        at += timedelta(minutes=10)


# --- holidays -------------------------------------------------------------------------------


def test_yearly_holiday_recurs_every_year() -> None:
    xmas = schedule(
        **{day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}, holidays=["25.12"]
    )
    assert not is_open(xmas, local(BERLIN, 2026, 12, 25, 10))
    assert not is_open(xmas, local(BERLIN, 2030, 12, 25, 10))
    assert is_open(xmas, local(BERLIN, 2026, 12, 24, 10))


def test_holiday_range_includes_both_ends() -> None:
    break_ = schedule(
        **{day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=["2026-12-24..2026-12-31"],
    )
    assert is_open(break_, local(BERLIN, 2026, 12, 23, 10))
    assert not is_open(break_, local(BERLIN, 2026, 12, 24, 10))
    assert not is_open(break_, local(BERLIN, 2026, 12, 31, 10))
    assert is_open(break_, local(BERLIN, 2027, 1, 1, 10))
    assert next_opening(break_, local(BERLIN, 2026, 12, 23, 18)) == utc(2027, 1, 1, 8)


def test_single_dates_in_either_notation() -> None:
    days = schedule(holidays=["2026-04-03", "06.04.2026", date(2026, 5, 1)])
    for holiday in (date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1)):
        assert is_holiday(days, holiday)
    assert not is_holiday(days, date(2027, 4, 3))


def test_yearly_29_february_only_in_leap_years() -> None:
    leap = schedule(holidays=["29.02"])
    assert is_holiday(leap, date(2028, 2, 29))
    assert not is_holiday(leap, date(2027, 3, 1))
    assert not is_holiday(leap, date(2027, 2, 28))


# --- daylight saving: Europe/Berlin ---------------------------------------------------------
# Spring forward 2026-03-29 (Sunday) 02:00 CET -> 03:00 CEST at 01:00 UTC.
# Fall back 2026-10-25 (Sunday) 03:00 CEST -> 02:00 CET at 01:00 UTC.


def test_berlin_spring_forward_interval_ending_in_the_missing_hour() -> None:
    early = schedule(sun=["01:30-02:30"])
    assert not is_open(early, utc(2026, 3, 29, 0, 29))
    assert is_open(early, utc(2026, 3, 29, 0, 30))  # 01:30 CET
    assert is_open(early, utc(2026, 3, 29, 0, 59, 59))
    assert not is_open(early, utc(2026, 3, 29, 1, 0))  # 03:00 CEST: the clock jumped past 02:30
    assert next_opening(early, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 0, 30)


def test_berlin_spring_forward_interval_inside_the_missing_hour_never_opens() -> None:
    lost = schedule(sun=["02:15-02:45"])
    assert not is_open(lost, utc(2026, 3, 29, 1, 0))
    assert next_opening(lost, utc(2026, 3, 28, 12)) == utc(2026, 4, 5, 0, 15)


def test_berlin_spring_forward_start_in_the_missing_hour_opens_at_the_jump() -> None:
    late = schedule(sun=["02:30-04:00"])
    assert not is_open(late, utc(2026, 3, 29, 0, 59))
    assert is_open(late, utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert next_opening(late, utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 29, 1, 0)
    assert not is_open(late, utc(2026, 3, 29, 2, 0))  # 04:00 CEST


def test_berlin_spring_forward_night_shift_is_an_hour_shorter() -> None:
    night = schedule(sat=["22:00-06:00"])
    assert is_open(night, utc(2026, 3, 28, 21, 0))  # 22:00 CET
    assert is_open(night, utc(2026, 3, 29, 3, 59))  # 05:59 CEST
    assert not is_open(night, utc(2026, 3, 29, 4, 0))  # 06:00 CEST


def test_berlin_day_shift_follows_the_new_offset() -> None:
    assert next_opening(
        schedule(sat=["09:00-17:00"], sun=["09:00-17:00"]), utc(2026, 3, 28, 17)
    ) == utc(2026, 3, 29, 7)


def test_berlin_fall_back_closes_at_the_first_showing_and_does_not_reopen() -> None:
    early = schedule(sun=["01:30-02:30"])
    assert is_open(early, utc(2026, 10, 24, 23, 30))  # 01:30 CEST
    assert is_open(early, utc(2026, 10, 25, 0, 29))
    assert not is_open(early, utc(2026, 10, 25, 0, 30))  # first 02:30, CEST
    assert not is_open(early, utc(2026, 10, 25, 1, 15))  # 02:15 again, now CET
    assert next_opening(early, utc(2026, 10, 25, 0, 30)) == utc(2026, 11, 1, 0, 30)


def test_berlin_fall_back_ambiguous_start_opens_at_its_first_showing() -> None:
    late = schedule(sun=["02:30-04:00"])
    assert next_opening(late, utc(2026, 10, 24, 12)) == utc(2026, 10, 25, 0, 30)
    assert is_open(late, utc(2026, 10, 25, 1, 15))  # repeated hour stays open
    assert is_open(late, utc(2026, 10, 25, 2, 59))
    assert not is_open(late, utc(2026, 10, 25, 3, 0))  # 04:00 CET


def test_berlin_fall_back_night_shift_is_an_hour_longer() -> None:
    night = schedule(sat=["22:00-06:00"])
    assert is_open(night, utc(2026, 10, 24, 20, 0))  # 22:00 CEST
    assert is_open(night, utc(2026, 10, 25, 4, 59))  # 05:59 CET
    assert not is_open(night, utc(2026, 10, 25, 5, 0))


# --- daylight saving: America/New_York ------------------------------------------------------
# Spring forward 2026-03-08 (Sunday) 02:00 EST -> 03:00 EDT at 07:00 UTC.
# Fall back 2026-11-01 (Sunday) 02:00 EDT -> 01:00 EST at 06:00 UTC.


def test_new_york_spring_forward_lost_hour_never_opens() -> None:
    lost = schedule("America/New_York", sun=["02:00-03:00"])
    assert not is_open(lost, utc(2026, 3, 8, 7, 0))
    assert next_opening(lost, utc(2026, 3, 7, 12)) == utc(2026, 3, 15, 6)


def test_new_york_spring_forward_interval_into_the_gap_closes_at_the_jump() -> None:
    early = schedule("America/New_York", sun=["01:00-02:30"])
    assert is_open(early, utc(2026, 3, 8, 6, 59))
    assert not is_open(early, utc(2026, 3, 8, 7, 0))


def test_new_york_fall_back_repeated_hour_stays_open() -> None:
    # 01:00-02:00 on fall-back day: the clock shows 01:xx twice and reaches 02:00 only in EST.
    early = schedule("America/New_York", sun=["01:00-02:00"])
    assert is_open(early, utc(2026, 11, 1, 5, 0))  # 01:00 EDT
    assert is_open(early, utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert not is_open(early, utc(2026, 11, 1, 7, 0))  # 02:00 EST


def test_new_york_fall_back_overnight_shift() -> None:
    night = schedule("America/New_York", sat=["20:00-08:00"])
    assert next_opening(night, utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 0)  # 20:00 EDT
    assert is_open(night, utc(2026, 11, 1, 12, 59))  # 07:59 EST
    assert not is_open(night, utc(2026, 11, 1, 13, 0))


# --- daylight saving at midnight: America/Santiago ------------------------------------------
# Spring forward 2026-09-06 (Sunday) 00:00 -04 -> 01:00 -03 at 04:00 UTC: midnight never shows.


def test_santiago_midnight_skipped_opens_at_the_jump() -> None:
    sunday = schedule("America/Santiago", sun=["00:00-08:00"])
    assert not is_open(sunday, utc(2026, 9, 6, 3, 59))
    assert next_opening(sunday, utc(2026, 9, 6, 3, 0)) == utc(2026, 9, 6, 4, 0)
    assert is_open(sunday, utc(2026, 9, 6, 10, 59))  # 07:59 -03


def test_santiago_shift_to_midnight_meets_the_next_day_without_a_gap() -> None:
    weekend = schedule("America/Santiago", sat=["20:00-24:00"], sun=["00:00-08:00"])
    at = utc(2026, 9, 6, 0, 0)  # Saturday 20:00 -04
    while at < utc(2026, 9, 6, 11, 0):
        assert is_open(weekend, at), at
        at += timedelta(minutes=5)


# --- config ---------------------------------------------------------------------------------


def test_check_schedule_reads_every_form() -> None:
    checked = check_schedule(
        {
            "timezone": "Europe/Berlin",
            "week": {
                "Monday": ["09:00-13:00", "14:00 – 18:00"],
                "fri": [["22:00", "06:00"]],
                "sat": [[time(10, 0), time(14, 0)]],  # TOML local times
            },
            "holidays": [
                "01.01",
                "2026-04-03",
                "06.04.2026",
                date(2026, 5, 1),  # TOML local date
                "2026-12-24..2026-12-31",
                {"from": date(2026, 8, 3), "to": "2026-08-14"},
            ],
        }
    )
    assert checked == Schedule(
        timezone="Europe/Berlin",
        week=(
            (Interval(time(9), time(13)), Interval(time(14), time(18))),
            (),
            (),
            (),
            (Interval(time(22), time(6)),),
            (Interval(time(10), time(14)),),
            (),
        ),
        holidays=frozenset({date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1)}),
        holiday_ranges=(
            DateRange(date(2026, 12, 24), date(2026, 12, 31)),
            DateRange(date(2026, 8, 3), date(2026, 8, 14)),
        ),
        yearly_holidays=frozenset({YearlyDate(month=1, day=1)}),
    )


def test_check_schedule_defaults_to_no_holidays() -> None:
    checked = check_schedule({"timezone": "UTC", "week": {}})
    assert checked.week == ((),) * 7
    assert not checked.holidays and not checked.holiday_ranges and not checked.yearly_holidays


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"week": {}}, "schedule.timezone: required"),
        (
            {"timezone": "Mars/Olympus", "week": {}},
            "schedule.timezone: unknown time zone 'Mars/Olympus'",
        ),
        ({"timezone": "", "week": {}}, "schedule.timezone: unknown time zone ''"),
        ({"timezone": 3, "week": {}}, "schedule.timezone: required"),
        ({"timezone": "UTC"}, "schedule.week: required"),
        ({"timezone": "UTC", "week": {}, "holiday": []}, "schedule.holiday: unknown field"),
        ({"timezone": "UTC", "week": []}, "schedule.week: expected a table"),
        ({"timezone": "UTC", "week": {"funday": []}}, "schedule.week.funday: unknown weekday"),
        (
            {"timezone": "UTC", "week": {"mon": [], "Monday": []}},
            "schedule.week.Monday: mon is given twice",
        ),
        ({"timezone": "UTC", "week": {"mon": "09:00-17:00"}}, "schedule.week.mon: expected a list"),
        (
            {"timezone": "UTC", "week": {"mon": ["25:00-26:00"]}},
            "schedule.week.mon[0].start: bad time '25:00'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["09:60-10:00"]}},
            "schedule.week.mon[0].start: bad time '09:60'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["9am-5pm"]}},
            "schedule.week.mon[0].start: bad time '9am'",
        ),
        (
            {"timezone": "UTC", "week": {"tue": ["08:00-12:00", "13:00-1800"]}},
            "schedule.week.tue[1].end: bad time '1800'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["24:00-06:00"]}},
            "schedule.week.mon[0].start: bad time '24:00'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["09:00-24:30"]}},
            "schedule.week.mon[0].end: bad time '24:30'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["09:00-09:00"]}},
            "schedule.week.mon[0]: empty interval",
        ),
        (
            {"timezone": "UTC", "week": {"mon": [["00:00", "00:00"]]}},
            "schedule.week.mon[0]: empty interval",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["09:00"]}},
            "schedule.week.mon[0]: expected 'HH:MM-HH:MM'",
        ),
        (
            {"timezone": "UTC", "week": {"mon": [["09:00", "10:00", "11:00"]]}},
            "schedule.week.mon[0]: expected",
        ),
        ({"timezone": "UTC", "week": {"mon": [900]}}, "schedule.week.mon[0]: expected"),
        (
            {"timezone": "UTC", "week": {"mon": ["09:00-13:00", "12:00-18:00"]}},
            "schedule.week.mon: intervals 09:00-13:00 and 12:00-18:00 overlap",
        ),
        (
            {"timezone": "UTC", "week": {"mon": ["22:00-06:00", "23:00-23:30"]}},
            "schedule.week.mon: intervals 22:00-06:00 and 23:00-23:30 overlap",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": "25.12"},
            "schedule.holidays: expected a list",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": ["31.02"]},
            "schedule.holidays[0]: no such day '31.02'",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": ["01.01", "2026-02-30"]},
            "schedule.holidays[1]: no such date",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": ["xmas"]},
            "schedule.holidays[0]: bad date 'xmas'",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": ["2026-12-31..2026-12-24"]},
            "schedule.holidays[0]: range ends (2026-12-24) before it starts (2026-12-31)",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": [{"from": "2026-01-01"}]},
            "schedule.holidays[0]: a range needs",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": [{"from": "x", "to": "2026-01-02"}]},
            "schedule.holidays[0].from: bad date",
        ),
        (
            {"timezone": "UTC", "week": {}, "holidays": [datetime(2026, 1, 1, tzinfo=UTC)]},
            "schedule.holidays[0]: bad date",
        ),
    ],
)
def test_check_schedule_names_the_bad_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as error:
        check_schedule(raw)
    assert str(error.value).startswith(message)


def test_check_schedule_prefixes_errors_with_where() -> None:
    with pytest.raises(ValueError, match=r"^lines\[2\]\.schedule\.timezone: "):
        check_schedule({"timezone": "Nowhere", "week": {}}, where="lines[2].schedule")


def test_check_schedule_refuses_a_non_table() -> None:
    with pytest.raises(ValueError, match="schedule: expected a table"):
        check_schedule(["09:00-17:00"])  # type: ignore[arg-type]


def test_plain_data_checks_itself() -> None:
    with pytest.raises(ValueError, match="7 days"):
        Schedule("UTC", ((),) * 6)
    with pytest.raises(ValueError, match="unknown time zone"):
        Schedule("Nowhere/Town", ((),) * 7)
    with pytest.raises(ValueError, match="no tzinfo"):
        Interval(time(9, tzinfo=UTC), time(17))
    with pytest.raises(ValueError, match="before it starts"):
        DateRange(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ValueError):
        YearlyDate(month=2, day=30)


# --- properties -----------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",  # transitions at midnight
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Asia/Kolkata",
    "UTC",
]
# Local dates near transitions, where bugs live; Pacific/Apia skipped 2011-12-30 entirely.
TRICKY_DAYS = [
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("America/Santiago", date(2026, 4, 5)),
    ("America/Santiago", date(2026, 9, 6)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Pacific/Apia", date(2011, 12, 30)),
]

quarter_hours = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
intervals = (
    st.tuples(quarter_hours, quarter_hours)
    .filter(lambda ends: ends[0] != ends[1])
    .map(lambda ends: Interval(*ends))
)
weeks = st.lists(st.lists(intervals, max_size=2).map(tuple), min_size=7, max_size=7).map(tuple)
yearly = st.builds(YearlyDate, month=st.integers(1, 12), day=st.integers(1, 28))


@st.composite
def schedules_and_instants(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    if draw(st.booleans()):
        timezone, around = draw(st.sampled_from(TRICKY_DAYS))
        start = datetime.combine(around, time(), tzinfo=UTC) - timedelta(days=2)
        at = start + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
    else:
        timezone = draw(st.sampled_from(ZONES))
        at = draw(
            st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
        )
    week = draw(weeks)
    holidays = draw(st.frozensets(yearly, max_size=3))
    return Schedule(timezone, week, yearly_holidays=holidays), at


@settings(max_examples=300, deadline=None)
@given(schedules_and_instants(), st.floats(0, 1))
def test_next_opening_is_the_first_open_instant(
    case: tuple[Schedule, datetime], fraction: float
) -> None:
    hours, at = case
    opening = next_opening(hours, at)
    if opening is None:
        assert not is_open(hours, at)
        return
    assert opening >= at
    assert is_open(hours, opening)
    assert (opening == at) == is_open(hours, at)
    if opening > at:
        assert not is_open(hours, opening - timedelta(microseconds=1))
        between = at + (opening - at) * fraction
        assert between >= opening or not is_open(hours, between)

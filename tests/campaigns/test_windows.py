"""Send windows, recurring starts and the ETA, read in real time zones across their daylight-saving
changes: a campaign sends only when its windows say, resumes when they open again, starts when
its recurrence says, and shows an ETA that accounts for pace, windows and the daily cap."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.campaigns.windows import (
    Recurrence,
    Schedule,
    Window,
    always_open,
    eta,
    format_recurrence,
    format_windows,
    from_json,
    is_open,
    next_open,
    next_run,
    open_spans,
    open_until,
    parse_recurrence,
    parse_windows,
    recurrence_from_json,
    recurrence_to_json,
    to_json,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MON_FRI = frozenset(range(5))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold).astimezone(UTC)


def new_york(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold).astimezone(UTC)


# --- Reading and writing windows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("Mon-Fri 13:00-18:00", [Window(MON_FRI, time(13), time(18))]),
        (
            "Mon-Fri 09:00-12:00, 13:00-18:00; Sat 10:00-14:00",
            [
                Window(MON_FRI, time(9), time(12)),
                Window(MON_FRI, time(13), time(18)),
                Window(frozenset({5}), time(10), time(14)),
            ],
        ),
        ("every day 08:00-20:00", [Window(frozenset(range(7)), time(8), time(20))]),
        ("Sat-Mon 10:00-16:00", [Window(frozenset({5, 6, 0}), time(10), time(16))]),
        ("MONDAY, wednesday 9:00 - 17:30", [Window(frozenset({0, 2}), time(9), time(17, 30))]),
        ("weekdays 08:00\u201320:00", [Window(MON_FRI, time(8), time(20))]),
        ("weekends 10:00-24:00", [Window(frozenset({5, 6}), time(10), time(0))]),
        (
            "Fri 22:00-00:00\nSat 00:00-06:00",
            [
                Window(frozenset({4}), time(22), time(0)),
                Window(frozenset({5}), time(0), time(6)),
            ],
        ),
        ("Sun 00:00-24:00", [Window(frozenset({6}), time(0), time(0))]),
        ("", []),
        ("  always ", []),
    ],
)
def test_windows_are_read_as_people_write_them(text: str, windows: list[Window]) -> None:
    assert parse_windows(text) == Schedule(tuple(windows))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mun-Fri 09:00-17:00", "'Mun' is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
        ("Mon-Fri 13:00-12:00", "13:00-12:00: the end must be after the start"),
        ("Fri 22:00-06:00", "a window across midnight is written as two"),
        ("Mon-Fri 09:00-09:00", "09:00-09:00: the end must be after the start"),
        ("09:00-17:00", "say on which days, e.g. 'Mon-Fri 09:00-17:00'"),
        ("Mon-Fri", "'Mon-Fri': add the hours, e.g. 'Mon-Fri 09:00-17:00'"),
        ("Mon 9am-5pm", "'9am-5pm' is not a time range: write it as HH:MM-HH:MM"),
        ("Mon 09:00-25:00", "'25:00' is not a time of day: use 00:00 to 24:00"),
        ("Mon 24:00-24:00", "'24:00' is not a time of day: use 00:00 to 23:59"),
        ("Mon-Wed-Fri 09:00-17:00", "'Mon-Wed-Fri' is not a day range: write it like Mon-Fri"),
    ],
)
def test_a_wrong_window_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_windows(text)


def test_windows_are_written_in_one_canonical_way() -> None:
    text = "monday-FRIDAY 9:00-12:00 , 13:00-18:00;sat,sun,mon 10:00-14:00; Tue, Thu 08:00-00:00"
    assert format_windows(parse_windows(text)) == (
        "Mon-Fri 09:00-12:00, 13:00-18:00; Sat-Mon 10:00-14:00; Tue, Thu 08:00-24:00"
    )
    assert format_windows(parse_windows("every day 08:00-20:00")) == "every day 08:00-20:00"
    assert format_windows(Schedule()) == ""


def test_windows_are_stored_as_json_data() -> None:
    schedule = parse_windows("Mon-Fri 13:00-18:00; Sat 20:00-24:00")
    data = to_json(schedule)
    assert data == [
        {"days": [0, 1, 2, 3, 4], "start": "13:00", "end": "18:00"},
        {"days": [5], "start": "20:00", "end": "24:00"},
    ]
    assert from_json(data) == schedule
    assert from_json([]) == Schedule()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days": [0]}, "a schedule is a list of windows"),
        ([{"days": [7], "start": "09:00", "end": "10:00"}], "window 1: 'days' is a list of"),
        ([{"days": [0], "start": "9h", "end": "10:00"}], "window 1: '9h' is not a time"),
        ([{"days": [0], "start": "11:00", "end": "10:00"}], "window 1: 11:00-10:00: the end"),
        ([{"days": [0], "start": "11:00"}], "window 1: expected"),
    ],
)
def test_wrong_json_data_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        from_json(data)


# --- Open or closed ----------------------------------------------------------------------------


def test_the_afternoon_window_is_open_on_weekday_afternoons_in_the_accounts_time_zone() -> None:
    schedule = parse_windows("Mon-Fri 13:00-18:00")
    monday_noon = paris(2026, 1, 5, 12, 0)
    assert not is_open(schedule, monday_noon, PARIS)
    assert next_open(schedule, monday_noon, PARIS) == paris(2026, 1, 5, 13, 0)
    assert is_open(schedule, paris(2026, 1, 5, 13, 0), PARIS)
    assert open_until(schedule, paris(2026, 1, 5, 15, 0), PARIS) == paris(2026, 1, 5, 18, 0)
    assert not is_open(schedule, paris(2026, 1, 5, 18, 0), PARIS)
    # Friday evening: the next opening is Monday afternoon.
    assert next_open(schedule, paris(2026, 1, 9, 18, 0), PARIS) == paris(2026, 1, 12, 13, 0)
    # The same instant in New York is 06:00 on Monday: closed until 13:00 there.
    assert next_open(schedule, monday_noon, NEW_YORK) == new_york(2026, 1, 5, 13, 0)


def test_windows_that_touch_across_midnight_are_one_open_span() -> None:
    schedule = parse_windows("Mon 20:00-24:00; Tue 00:00-06:00")
    assert open_until(schedule, utc(2026, 1, 5, 21, 0), UTC) == utc(2026, 1, 6, 6, 0)
    assert is_open(schedule, utc(2026, 1, 6, 0, 0), UTC)
    assert not is_open(schedule, utc(2026, 1, 6, 6, 0), UTC)
    overlapping = parse_windows("Mon 09:00-12:00, 11:00-14:00, 14:00-15:00")
    assert open_until(overlapping, utc(2026, 1, 5, 9, 30), UTC) == utc(2026, 1, 5, 15, 0)


def test_a_window_from_saturday_to_monday_wraps_around_the_week() -> None:
    schedule = parse_windows("Sat-Mon 10:00-16:00")
    assert is_open(schedule, utc(2026, 1, 3, 12, 0), UTC)  # Saturday
    assert is_open(schedule, utc(2026, 1, 4, 12, 0), UTC)  # Sunday
    assert is_open(schedule, utc(2026, 1, 5, 12, 0), UTC)  # Monday
    assert not is_open(schedule, utc(2026, 1, 6, 12, 0), UTC)  # Tuesday
    assert next_open(schedule, utc(2026, 1, 6, 12, 0), UTC) == utc(2026, 1, 10, 10, 0)


def test_no_windows_means_always_open_and_days_without_windows_never_open() -> None:
    now = utc(2026, 6, 1, 3, 0)
    for schedule in (Schedule(), parse_windows("every day 00:00-24:00")):
        assert always_open(schedule)
        assert is_open(schedule, now, PARIS)
        assert next_open(schedule, now, PARIS) == now
        assert open_until(schedule, now, PARIS) is None
    never = Schedule((Window(frozenset(), time(9), time(17)),))
    assert not is_open(never, now, PARIS)
    with pytest.raises(ValueError, match="never open: give its windows at least one day"):
        next_open(never, now, PARIS)


def test_open_until_refuses_a_closed_moment_and_every_function_refuses_a_naive_now() -> None:
    schedule = parse_windows("Mon-Fri 13:00-18:00")
    with pytest.raises(ValueError, match="closed at 2026-01-05T11:00:00\\+00:00: it opens at"):
        open_until(schedule, paris(2026, 1, 5, 12, 0), PARIS)
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        is_open(schedule, datetime(2026, 1, 5, 12, 0), PARIS)  # noqa: DTZ001


# --- Daylight-saving changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "before", "opens", "closes", "hours"),
    [
        # Spring forward: 02:00-03:00 does not exist, the window lasts 2 real hours.
        (PARIS, utc(2026, 3, 28, 12), paris(2026, 3, 29, 1), paris(2026, 3, 29, 4), 2),
        (NEW_YORK, utc(2026, 3, 7, 12), new_york(2026, 3, 8, 1), new_york(2026, 3, 8, 4), 2),
        # Fall back: the repeated hour is inside the window, which lasts 4 real hours.
        (PARIS, utc(2026, 10, 24, 12), paris(2026, 10, 25, 1), paris(2026, 10, 25, 4), 4),
        (NEW_YORK, utc(2026, 10, 31, 12), new_york(2026, 11, 1, 1), new_york(2026, 11, 1, 4), 4),
    ],
)
def test_a_night_window_lasts_the_real_hours_of_a_daylight_saving_day(
    tz: ZoneInfo, before: datetime, opens: datetime, closes: datetime, hours: int
) -> None:
    schedule = parse_windows("Sun 01:00-04:00")
    assert next_open(schedule, before, tz) == opens
    assert open_until(schedule, opens, tz) == closes
    assert closes - opens == timedelta(hours=hours)


def test_a_window_starting_in_the_missing_hour_opens_when_the_clocks_jump() -> None:
    schedule = parse_windows("Sun 02:30-05:00")
    assert next_open(schedule, utc(2026, 3, 28), PARIS) == paris(2026, 3, 29, 3, 0)
    assert next_open(schedule, utc(2026, 3, 7), NEW_YORK) == new_york(2026, 3, 8, 3, 0)
    # A window wholly inside the missing hour is closed that day, open the next week.
    inside = parse_windows("Sun 02:00-02:45")
    assert next_open(inside, utc(2026, 3, 28), PARIS) == paris(2026, 4, 5, 2, 0)


def test_a_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence() -> None:
    schedule = parse_windows("Sun 00:00-02:30")
    assert open_until(schedule, paris(2026, 10, 25, 1, 0), PARIS) == paris(2026, 10, 25, 2, 30)
    assert not is_open(schedule, paris(2026, 10, 25, 2, 10, fold=1), PARIS)
    assert open_until(schedule, new_york(2026, 11, 1, 0, 0), NEW_YORK) == new_york(
        2026, 11, 1, 2, 30
    )


# --- Recurring starts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "recurrence"),
    [
        ("Mon 09:00", Recurrence(frozenset({0}), time(9))),
        ("Mon,Thu 09:00", Recurrence(frozenset({0, 3}), time(9))),
        ("every day 07:00", Recurrence(frozenset(range(7)), time(7))),
        ("weekdays 08:30", Recurrence(MON_FRI, time(8, 30))),
        ("every Monday at 9:00", Recurrence(frozenset({0}), time(9))),
        ("every weekday 08:30", Recurrence(MON_FRI, time(8, 30))),
    ],
)
def test_recurrences_are_read_as_people_write_them(text: str, recurrence: Recurrence) -> None:
    assert parse_recurrence(text) == recurrence
    assert parse_recurrence(format_recurrence(recurrence)) == recurrence
    assert recurrence_from_json(recurrence_to_json(recurrence)) == recurrence


def test_recurrences_are_written_and_stored_canonically() -> None:
    assert format_recurrence(parse_recurrence("monday,tuesday,wed 9:05")) == "Mon-Wed 09:05"
    assert recurrence_to_json(parse_recurrence("Mon, Thu 09:00")) == {"days": [0, 3], "at": "09:00"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mun 09:00", "'Mun' is not a day: use Mon, Tue"),
        ("09:00", "'09:00': say on which days, e.g. 'every Monday 09:00'"),
        ("every Monday", "'Monday': add the time, e.g. 'Monday 09:00'"),
        ("Mon 09:00 17:00", "one time per recurrence, e.g. 'Mon 09:00'"),
        ("Mon 24:00", "'24:00' is not a time of day: use 00:00 to 23:59"),
        ("", "say when to start"),
    ],
)
def test_a_wrong_recurrence_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_recurrence(text)


def test_a_weekly_start_comes_every_monday_at_nine_local_time() -> None:
    weekly = parse_recurrence("every Monday 09:00")
    assert next_run(weekly, paris(2026, 1, 5, 8, 59), PARIS) == paris(2026, 1, 5, 9, 0)
    assert next_run(weekly, paris(2026, 1, 5, 9, 0), PARIS) == paris(2026, 1, 12, 9, 0)
    # Across the spring change the wall time stays 09:00; the UTC hour moves.
    assert next_run(weekly, paris(2026, 3, 23, 9, 0), PARIS) == utc(2026, 3, 30, 7, 0)
    assert next_run(weekly, paris(2026, 3, 16, 9, 0), PARIS) == utc(2026, 3, 23, 8, 0)


@pytest.mark.parametrize(
    ("tz", "after", "text", "runs"),
    [
        # No 02:30 on the spring-forward day: the run happens when the clocks jump to 03:00.
        (PARIS, utc(2026, 3, 28), "Sun 02:30", [paris(2026, 3, 29, 3), paris(2026, 4, 5, 2, 30)]),
        (
            NEW_YORK,
            utc(2026, 3, 7),
            "Sun 02:30",
            [new_york(2026, 3, 8, 3), new_york(2026, 3, 15, 2, 30)],
        ),
        # Two 02:30 (Paris) or 01:30 (New York) on the fall-back day: only the first one.
        (
            PARIS,
            utc(2026, 10, 24),
            "Sun 02:30",
            [utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)],
        ),
        (
            NEW_YORK,
            utc(2026, 10, 31),
            "Sun 01:30",
            [utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30)],
        ),
    ],
)
def test_a_recurring_start_happens_once_on_a_daylight_saving_day(
    tz: ZoneInfo, after: datetime, text: str, runs: list[datetime]
) -> None:
    recurrence = parse_recurrence(text)
    first = next_run(recurrence, after, tz)
    assert [first, next_run(recurrence, first, tz)] == runs


# --- ETA ---------------------------------------------------------------------------------------


def test_the_eta_counts_only_the_open_hours_at_the_campaigns_pace() -> None:
    afternoons = parse_windows("Mon-Fri 13:00-18:00")
    monday_noon = paris(2026, 1, 5, 12, 0)
    # 5 h on Monday afternoon (18,000 at 1/s), then one more hour on Tuesday.
    assert eta(18_000 + 3_600, 1.0, afternoons, PARIS, monday_noon) == paris(2026, 1, 6, 14, 0)
    # Friday's afternoon, then Monday's.
    friday_five = paris(2026, 1, 9, 17, 0)
    assert eta(7_200, 1.0, afternoons, PARIS, friday_five) == paris(2026, 1, 12, 14, 0)
    assert eta(0, 1.0, afternoons, PARIS, monday_noon) == monday_noon
    # Unpaced: everything goes when the window opens.
    assert eta(50_000, None, afternoons, PARIS, monday_noon) == paris(2026, 1, 5, 13, 0)
    assert eta(7_200, 2.0, Schedule(), PARIS, monday_noon) == paris(2026, 1, 5, 13, 0)


def test_the_eta_respects_the_daily_cap_of_each_local_day() -> None:
    afternoons = parse_windows("Mon-Fri 13:00-18:00")
    monday_noon = paris(2026, 1, 5, 12, 0)
    # 1,000 a day at 1/s: Monday 13:00-13:16:40, Tuesday the same, Wednesday half of it.
    capped = eta(2_500, 1.0, afternoons, PARIS, monday_noon, daily_cap=1_000)
    assert capped == paris(2026, 1, 7, 13, 8, 20)
    # 400 already sent today leaves 600 for Monday.
    assert eta(1_000, 1.0, afternoons, PARIS, monday_noon, daily_cap=1_000, sent_today=400) == (
        paris(2026, 1, 6, 13, 6, 40)
    )
    # Unpaced with a cap: each day's share goes at the opening; the last share on Wednesday.
    assert eta(2_500, None, afternoons, PARIS, monday_noon, daily_cap=1_000) == paris(
        2026, 1, 7, 13, 0
    )
    # Always open with a cap: a new share at each local midnight.
    assert eta(2_500, None, Schedule(), PARIS, monday_noon, daily_cap=1_000) == paris(
        2026, 1, 7, 0, 0
    )


def test_the_eta_counts_the_real_hours_of_a_daylight_saving_night() -> None:
    nights = parse_windows("Sun 01:00-04:00")
    # Three hours of sending, but the spring-forward night has two: the rest the next Sunday.
    assert eta(3 * 3_600, 1.0, nights, PARIS, utc(2026, 3, 28)) == paris(2026, 4, 5, 2, 0)
    # The fall-back night has four.
    assert eta(4 * 3_600, 1.0, nights, PARIS, utc(2026, 10, 24)) == paris(2026, 10, 25, 4, 0)


def test_an_eta_of_years_is_computed_quickly_and_a_hopeless_one_is_none() -> None:
    afternoons = parse_windows("Mon-Fri 13:00-18:00")
    now = paris(2026, 1, 5, 12, 0)
    # 10 million at 1,000 a day: 10,000 weekdays, about 38 years, walked day by day.
    far = eta(10_000_000, 1.0, afternoons, PARIS, now, daily_cap=1_000)
    assert far is not None
    assert far.astimezone(PARIS).time() == time(13, 16, 40)
    assert 2063 < far.year < 2066
    assert eta(10**9, 1.0, afternoons, PARIS, now, daily_cap=10) is None
    assert eta(10**15, 0.001, Schedule(), PARIS, now) is None


def test_a_wrong_eta_question_says_what_is_wrong() -> None:
    now = utc(2026, 1, 5)
    with pytest.raises(ValueError, match="positive number"):
        eta(10, 0.0, Schedule(), UTC, now)
    with pytest.raises(ValueError, match="a daily cap is at least 1 message"):
        eta(10, 1.0, Schedule(), UTC, now, daily_cap=0)
    with pytest.raises(ValueError, match="cannot be negative"):
        eta(-1, 1.0, Schedule(), UTC, now)


# --- Properties --------------------------------------------------------------------------------

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",  # a 30-minute change
        "America/Santiago",  # changes at midnight, falling back across the date
        "Asia/Beirut",  # falls back across the date
        "America/Havana",  # springs forward at midnight
        "Asia/Kolkata",  # no change, a half-hour offset
    )
]


def _transitions(tz: ZoneInfo) -> list[datetime]:
    found = []
    t = utc(2025, 12, 1)
    before = t.astimezone(tz).utcoffset()
    while t < utc(2027, 1, 1):
        t += timedelta(minutes=30)
        offset = t.astimezone(tz).utcoffset()
        if offset != before:
            found.append(t)
        before = offset
    return found


TRANSITIONS = {tz: _transitions(tz) for tz in ZONES}
zones = st.sampled_from(ZONES)
# Half-hours, so that windows start and end right on and inside the changes.
minutes = st.integers(0, 48).map(lambda n: n * 30)
days = st.frozensets(st.integers(0, 6), min_size=1)


@st.composite
def moments(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, int, int]:
    """A zone and an instant, half of the time within hours of one of the zone's daylight-saving
    changes, where the mistakes hide; with the wall time (in minutes, rounded to a half-hour)
    and the weekday of that change, for schedules that start or end around it."""
    tz = draw(zones)
    if TRANSITIONS[tz] and draw(st.booleans()):
        change = draw(st.sampled_from(TRANSITIONS[tz]))
        t = change + timedelta(seconds=draw(st.integers(-6 * 3600, 6 * 3600)))
        wall = (change - timedelta(microseconds=1)).astimezone(tz)
        pivot = (wall.hour * 60 + wall.minute + 1) // 30 * 30
        return tz, t, pivot, wall.weekday()
    # Hypothesis takes naive bounds and makes aware instants in the given zone.
    bounds = datetime(2026, 1, 1), datetime(2026, 12, 31)  # noqa: DTZ001
    t = draw(st.datetimes(*bounds, timezones=st.just(UTC)))
    return tz, t, draw(minutes), draw(st.integers(0, 6))


def as_time(minute: int) -> time:
    return time((minute // 60) % 24, minute % 60)  # 1440 (24:00) is time(0, 0)


@st.composite
def windows(draw: st.DrawFn, step: int = 30) -> Window:
    start = draw(st.integers(0, 24 * 60 // step - 1)) * step
    end = draw(st.integers(start // step + 1, 24 * 60 // step)) * step
    return Window(draw(days), as_time(start), as_time(end))


@st.composite
def windows_around(draw: st.DrawFn, pivot: int, weekday: int) -> Window:
    """A window on the day of a change (and maybe the next), its ends near the change's time."""
    near = st.integers(-4, 4).map(lambda k: min(max(pivot + 30 * k, 0), 24 * 60))
    first, second = draw(near | minutes), draw(near | minutes)
    if first == second:
        second = first + 30 if first < 24 * 60 else first - 30
    start, end = sorted((first, second))
    on = frozenset({weekday, (weekday + 1) % 7}) if draw(st.booleans()) else frozenset({weekday})
    return Window(on | draw(st.frozensets(st.integers(0, 6))), as_time(start), as_time(end))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Schedule, ZoneInfo, datetime]:
    """A schedule, a zone and an instant, often with windows around a nearby change."""
    tz, t, pivot, weekday = draw(moments())
    made = windows_around(pivot, weekday) | windows()
    return Schedule(tuple(draw(st.lists(made, min_size=1, max_size=4)))), tz, t


def wall_clock_open(schedule: Schedule, t: datetime, tz: ZoneInfo) -> bool:
    """The obvious reading, right whenever the local time is not the repeat of a fall-back."""
    local = t.astimezone(tz)
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    return any(
        local.weekday() in w.days and w.start_minute <= minute < w.end_minute
        for w in schedule.windows
    )


@settings(max_examples=1000, deadline=None)
@given(scenarios())
def test_open_means_inside_a_window_on_the_local_wall_clock(
    scenario: tuple[Schedule, ZoneInfo, datetime],
) -> None:
    schedule, tz, t = scenario
    if t.astimezone(tz).fold == 0:  # the repeated hour: the first occurrence counts
        assert is_open(schedule, t, tz) == wall_clock_open(schedule, t, tz)


@settings(max_examples=500, deadline=None)
@given(scenarios())
def test_next_open_is_the_first_open_moment(scenario: tuple[Schedule, ZoneInfo, datetime]) -> None:
    schedule, tz, x = scenario
    opens = next_open(schedule, x, tz)
    assert opens >= x
    assert is_open(schedule, opens, tz)
    if opens > x:
        assert not is_open(schedule, opens - timedelta(microseconds=1), tz)
        for k in range(40):
            assert not is_open(schedule, x + (opens - x) * k / 40, tz)


@settings(max_examples=500, deadline=None)
@given(scenarios())
def test_open_until_is_the_first_closed_moment(
    scenario: tuple[Schedule, ZoneInfo, datetime],
) -> None:
    schedule, tz, x = scenario
    now = next_open(schedule, x, tz)
    until = open_until(schedule, now, tz)
    if until is None:
        assert always_open(schedule)
        return
    assert until > now
    assert is_open(schedule, until - timedelta(minutes=1), tz) or until - now < timedelta(minutes=1)
    assert is_open(schedule, until - timedelta(microseconds=1), tz)
    assert not is_open(schedule, until, tz)  # touching windows were merged into one span
    for k in range(40):
        assert is_open(schedule, now + (until - now) * k / 40, tz)


@given(st.lists(windows(step=1), max_size=6).map(lambda ws: Schedule(tuple(ws))))
def test_windows_written_are_read_back_the_same(schedule: Schedule) -> None:
    assert parse_windows(format_windows(schedule)) == schedule
    assert from_json(to_json(schedule)) == schedule


@settings(max_examples=1000, deadline=None)
@given(moments(), days, st.integers(-3, 3), st.booleans())
def test_next_run_is_the_next_day_at_the_local_wall_time(
    moment: tuple[ZoneInfo, datetime, int, int], run_days: frozenset[int], k: int, on_change: bool
) -> None:
    tz, after, pivot, weekday = moment
    minute = min(max(pivot + 30 * k, 0), 24 * 60 - 30)  # around the change's wall time
    if on_change:
        run_days |= {weekday, (weekday + 1) % 7}
    recurrence = Recurrence(run_days, as_time(minute))
    run = next_run(recurrence, after, tz)
    assert run > after
    local = run.astimezone(tz)
    assert local.weekday() in run_days
    assert local.fold == 0  # the first of two occurrences, never the repeat
    if local.time() != recurrence.at:  # the wall time did not exist: the clocks jumped over it
        just_before = (run - timedelta(microseconds=1)).astimezone(tz)
        assert (
            just_before.time() < recurrence.at < local.time() or local.time() < just_before.time()
        )
    # Every day in between is a day without a run, and a run on after's own day was over.
    after_local = after.astimezone(tz)
    day = after_local.date() + timedelta(days=1)
    while day < local.date():
        assert day.weekday() not in run_days
        day += timedelta(days=1)
    if after_local.weekday() in run_days and local.date() != after_local.date():
        assert after_local.time() >= recurrence.at or after_local.fold == 1
    # Once a day, even on a fall-back day.
    assert next_run(recurrence, run, tz).astimezone(tz).date() != local.date()


@settings(max_examples=200, deadline=None)
@given(
    scenarios(),
    st.integers(0, 200_000),
    st.integers(0, 200_000),
    st.one_of(st.none(), st.sampled_from([0.01, 0.5, 1.0, 3.0, 25.0])),
    st.one_of(st.none(), st.integers(1, 50_000)),
    st.integers(0, 60_000),
)
def test_the_eta_grows_with_what_remains_and_a_cap_only_delays(
    scenario: tuple[Schedule, ZoneInfo, datetime],
    a: int,
    b: int,
    per_second: float | None,
    cap: int | None,
    sent_today: int,
) -> None:
    schedule, tz, now = scenario
    fewer, more = sorted((a, b))

    def when(n: int, **cap_args: int | None) -> datetime:
        """The ETA, with "not within the horizon" (None) as the end of time."""
        finish = eta(n, per_second, schedule, tz, now, **cap_args)
        return datetime.max.replace(tzinfo=UTC) if finish is None else finish

    capped = {"daily_cap": cap, "sent_today": sent_today}
    assert when(fewer, **capped) <= when(more, **capped)
    assert when(more) <= when(more, **capped)
    if more:
        assert when(more) >= next_open(schedule, now, tz)
    if per_second is None and cap is None and more:
        assert when(more) == next_open(schedule, now, tz)


@settings(max_examples=300, deadline=None)
@given(
    scenarios(),
    st.integers(1, 100_000),
    st.sampled_from([0.05, 0.5, 1.0, 3.0, 25.0]),
)
def test_the_eta_is_when_the_open_time_since_now_is_what_the_pace_needs(
    scenario: tuple[Schedule, ZoneInfo, datetime], remaining: int, per_second: float
) -> None:
    schedule, tz, now = scenario
    finish = eta(remaining, per_second, schedule, tz, now)
    if finish is None:  # more than a hundred years: the open time is far too short
        return
    if always_open(schedule):
        assert finish == now + timedelta(seconds=remaining / per_second)
        return
    open_seconds = 0.0
    for start, end in open_spans(schedule, now, tz):
        if start >= finish:
            break
        open_seconds += (min(end, finish) - start).total_seconds()
    assert open_seconds == pytest.approx(remaining / per_second, abs=1e-3)
    assert is_open(schedule, finish - timedelta(microseconds=1), tz)

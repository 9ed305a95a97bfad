"""Send windows, recurring starts and the ETA of a campaign: the scheduling arithmetic.

Pure: no database, no clock read (every function takes ``now``), no I/O. Windows and recurrences
are written in *local wall time* of a time zone (the account's, or a contact's own) and every
instant this module returns is an aware UTC ``datetime``.

- A ``Window`` is a daily open span on some weekdays (``Mon-Fri 13:00-18:00``); its end may be
  midnight at the end of the day (``24:00``, stored as ``time(0, 0)``). A span across midnight is
  two windows (``Fri 22:00-24:00; Sat 00:00-06:00``): the parser refuses ``22:00-06:00`` and says
  so, because ``13:00-12:00`` is far more often a typo than a 23-hour window.
- A ``Schedule`` is a tuple of windows; no window at all means "always open". Windows that
  overlap or touch (``Mon 20:00-24:00`` and ``Tue 00:00-06:00``) form one open span.
- A ``Recurrence`` is a start time on some weekdays (``every Monday 09:00``).

Daylight-saving time, the one rule for every local time: a wall time that does not exist that day
(02:30 when clocks spring forward from 02:00 to 03:00) means the first instant after the gap
(03:00); a wall time that happens twice (when clocks fall back) means its first occurrence
(``fold=0``). So a window 01:00-04:00 lasts 2 real hours on a spring-forward day and 4 on a
fall-back day (the repeated hour is inside it), a window lying wholly in the gap is closed that
day, and a recurrence at 02:30 runs at 03:00 on a spring-forward day and only once on a
fall-back day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

MIDNIGHT = time(0, 0)
DAY_MINUTES = 24 * 60
ONE_DAY = timedelta(days=1)
ALL_DAYS = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset({5, 6})
DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # date.weekday() order
# Beyond this an ETA is "not in any foreseeable future" (None): a campaign capped at 10 a day
# with a million to send. It also bounds the work of eta() to ~36,500 days.
ETA_HORIZON_DAYS = 36_525
# A schedule with days is open at least weekly; a DST gap can swallow one occurrence, not five.
# A run of this many days without any open span means the schedule never opens.
NEVER_OPEN_AFTER_DAYS = 35
# Float rounding may leave a millionth of a message to send after a span: that is done, not the
# next span's first microsecond.
MESSAGE_EPSILON = 1e-6

_DAY_NAMES = {
    **{name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: n
        for n, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_DAY_GROUPS = {
    "day": ALL_DAYS,
    "days": ALL_DAYS,
    "daily": ALL_DAYS,
    "weekday": WEEKDAYS,
    "weekdays": WEEKDAYS,
    "weekend": WEEKEND,
    "weekends": WEEKEND,
}
_FILLER_WORDS = frozenset({"every", "and", "on", "at", "from"})
_ALWAYS_WORDS = frozenset({"", "always", "any time", "anytime"})
_DAY_HINT = "use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as Mon-Fri, or 'every day'"
# Hyphen, the Unicode dashes (en, em, ...) and minus sign, with any spaces around them.
_DASH = re.compile(r"\s*[-\u2010-\u2015\u2212]\s*")
_TOKEN_SEPARATOR = re.compile(r"[\s,]+")
_GROUP_SEPARATOR = re.compile(r"[;\n]")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_CLOCK_RANGE = re.compile(r"(\d{1,2}:\d{2})-(\d{1,2}:\d{2})")


@dataclass(frozen=True)
class Window:
    """A daily open span, ``start`` to ``end`` in local wall time, on the weekdays ``days``
    (0 = Monday ... 6 = Sunday). ``end == time(0, 0)`` means midnight at the end of the day
    (24:00); otherwise ``start < end``. Whole minutes only."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days <= ALL_DAYS:
            raise ValueError(f"days are 0 (Monday) to 6 (Sunday), not {sorted(self.days)}")
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"a window's {name} is a local time without a zone: {value!r}")
            if value.second or value.microsecond:
                raise ValueError(f"windows are in whole minutes, not {value.isoformat()}")
        if self.end_minute <= self.start_minute:
            raise ValueError(f"{_span_text(self)}: the end must be after the start")

    @property
    def start_minute(self) -> int:
        """Minutes from the day's midnight to the start."""
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        """Minutes from the day's midnight to the end: 1440 for midnight at the end of the day."""
        if self.end == MIDNIGHT:
            return DAY_MINUTES
        return self.end.hour * 60 + self.end.minute


@dataclass(frozen=True)
class Schedule:
    """When sending may happen: open during any of ``windows``; no window means always open."""

    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        for window in self.windows:
            if not isinstance(window, Window):
                raise ValueError(f"a schedule holds windows, not {window!r}")


@dataclass(frozen=True)
class Recurrence:
    """A start time ``at`` (local wall time) on the weekdays ``days`` (0 = Monday): "every
    Monday 09:00". Whole minutes only."""

    days: frozenset[int]
    at: time

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days <= ALL_DAYS:
            raise ValueError(f"days are 0 (Monday) to 6 (Sunday), not {sorted(self.days)}")
        if not isinstance(self.at, time) or self.at.tzinfo is not None:
            raise ValueError(f"a recurrence's time is a local time without a zone: {self.at!r}")
        if self.at.second or self.at.microsecond:
            raise ValueError(f"recurrences are in whole minutes, not {self.at.isoformat()}")


# --- Text ------------------------------------------------------------------------------------


def parse_windows(text: str) -> Schedule:
    """Read send windows written as people write them.

    Groups are separated by ``;`` or new lines; each names days then one or more time ranges
    separated by commas: ``"Mon-Fri 09:00-12:00, 13:00-18:00; Sat 10:00-14:00"``,
    ``"every day 08:00-20:00"``, ``"Sat-Mon 10:00-16:00"`` (ranges wrap around the week).
    Day names are English, any case, short or long (``Mon``, ``monday``), or ``weekdays``,
    ``weekends``, ``every day``. ``24:00`` (or ``00:00``) as an end means midnight at the end
    of the day. An empty text (or ``always``) means always open. Each time range gives one
    ``Window``, in the order written.

    Raises ``ValueError`` with a message saying what to fix.
    """
    if text.strip().lower() in _ALWAYS_WORDS:
        return Schedule()
    windows: list[Window] = []
    for group in _GROUP_SEPARATOR.split(text):
        tokens = _tokens(group)
        if not tokens:
            continue
        days: set[int] = set()
        spans: list[tuple[time, time]] = []
        for token in tokens:
            if any(c.isdigit() for c in token):
                spans.append(_parse_span(token))
            else:
                days |= _parse_day_token(token)
        shown = " ".join(tokens)
        if not days:
            raise ValueError(
                f"'{shown}': say on which days, e.g. 'Mon-Fri {_first_or(tokens, '09:00-17:00')}'"
                " or 'every day ...'"
            )
        if not spans:
            raise ValueError(
                f"'{shown}': add the hours, e.g. '{shown} 09:00-17:00' (00:00-24:00 for all day)"
            )
        windows.extend(Window(frozenset(days), start, end) for start, end in spans)
    return Schedule(tuple(windows))


def format_windows(schedule: Schedule) -> str:
    """The canonical text of a schedule, which ``parse_windows`` reads back to the same schedule:
    consecutive windows on the same days share one group (``"Mon-Fri 09:00-12:00, 13:00-18:00;
    Sat 10:00-14:00"``); ``""`` for always open. Raises ``ValueError`` for a window without days,
    which no text can say."""
    groups: list[tuple[frozenset[int], list[str]]] = []
    for window in schedule.windows:
        if not window.days:
            raise ValueError("a window without days cannot be written: give it at least one day")
        span = _span_text(window)
        if groups and groups[-1][0] == window.days:
            groups[-1][1].append(span)
        else:
            groups.append((window.days, [span]))
    return "; ".join(f"{format_days(days)} {', '.join(spans)}" for days, spans in groups)


def format_days(days: frozenset[int]) -> str:
    """Weekdays as canonical text: ``"every day"``, ``"Mon-Fri"``, ``"Sat-Mon"`` (runs of three
    or more days, wrapping around the week), ``"Mon, Thu"``; ``""`` for no day."""
    if days == ALL_DAYS:
        return "every day"
    if not days:
        return ""
    # Start just after a day off, so that a run across Sunday-Monday stays whole.
    first = next(d for d in range(7) if d in days and (d - 1) % 7 not in days)
    runs: list[list[int]] = []
    for offset in range(7):
        day = (first + offset) % 7
        if day not in days:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    runs.sort(key=lambda run: run[0])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_ABBREVIATIONS[run[0]]}-{DAY_ABBREVIATIONS[run[-1]]}")
        else:
            parts.extend(DAY_ABBREVIATIONS[d] for d in run)
    return ", ".join(parts)


def parse_recurrence(text: str) -> Recurrence:
    """Read a recurring start: days then one time, ``"Mon 09:00"``, ``"Mon,Thu 09:00"``,
    ``"every day 07:00"``, ``"weekdays 08:30"``, ``"every Monday at 09:00"``.

    Raises ``ValueError`` with a message saying what to fix.
    """
    tokens = _tokens(text)
    days: set[int] = set()
    times: list[time] = []
    for token in tokens:
        if any(c.isdigit() for c in token):
            times.append(_parse_clock(token, end=False))
        else:
            days |= _parse_day_token(token)
    shown = " ".join(tokens)
    if not tokens:
        raise ValueError("say when to start, e.g. 'every Monday 09:00' or 'weekdays 08:30'")
    if not days:
        raise ValueError(f"'{shown}': say on which days, e.g. 'every Monday {shown}'")
    if not times:
        raise ValueError(f"'{shown}': add the time, e.g. '{shown} 09:00'")
    if len(times) > 1:
        raise ValueError(
            f"'{shown}': one time per recurrence, e.g. '{format_days(frozenset(days))} "
            f"{_clock_text(times[0])}'"
        )
    return Recurrence(frozenset(days), times[0])


def format_recurrence(recurrence: Recurrence) -> str:
    """The canonical text of a recurrence (``"Mon-Fri 08:30"``, ``"every day 07:00"``), which
    ``parse_recurrence`` reads back to the same recurrence. Raises ``ValueError`` without days."""
    if not recurrence.days:
        raise ValueError("a recurrence without days cannot be written: give it at least one day")
    return f"{format_days(recurrence.days)} {_clock_text(recurrence.at)}"


def _tokens(text: str) -> list[str]:
    text = _DASH.sub("-", text.strip())
    return [t for t in _TOKEN_SEPARATOR.split(text) if t and t.lower() not in _FILLER_WORDS]


def _first_or(tokens: Sequence[str], default: str) -> str:
    return next((t for t in tokens if any(c.isdigit() for c in t)), default)


def _parse_day_token(token: str) -> set[int]:
    lowered = token.lower()
    if lowered in _DAY_GROUPS:
        return set(_DAY_GROUPS[lowered])
    names = lowered.split("-")
    if len(names) > 2 or not all(names):
        raise ValueError(f"'{token}' is not a day range: write it like Mon-Fri")
    numbers = []
    for name, original in zip(names, token.split("-"), strict=True):
        number = _day_number(name)
        if number is None:
            raise ValueError(f"'{original}' is not a day: {_DAY_HINT}")
        numbers.append(number)
    if len(numbers) == 1:
        return {numbers[0]}
    first, last = numbers
    return {(first + k) % 7 for k in range((last - first) % 7 + 1)}


def _day_number(name: str) -> int | None:
    if name in _DAY_NAMES:
        return _DAY_NAMES[name]
    if name.endswith("s") and name[:-1] in _DAY_NAMES:  # "Mondays"
        return _DAY_NAMES[name[:-1]]
    return None


def _parse_span(token: str) -> tuple[time, time]:
    match = _CLOCK_RANGE.fullmatch(token)
    if not match:
        raise ValueError(
            f"'{token}' is not a time range: write it as HH:MM-HH:MM, e.g. 09:00-17:00"
        )
    start = _parse_clock(match[1], end=False)
    end = _parse_clock(match[2], end=True)
    if end != MIDNIGHT and end <= start:
        raise ValueError(
            f"{token}: the end must be after the start (a window across midnight is written as "
            "two, e.g. 'Fri 22:00-24:00; Sat 00:00-06:00')"
        )
    return start, end


def _parse_clock(text: str, *, end: bool) -> time:
    """``HH:MM`` (``24:00`` only as an end, where it is ``time(0, 0)``)."""
    match = _CLOCK.fullmatch(text)
    if not match:
        raise ValueError(f"'{text}' is not a time: write it as HH:MM, e.g. 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return MIDNIGHT
    if hours > 23 or minutes > 59:
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ValueError(f"'{text}' is not a time of day: use {allowed}")
    return time(hours, minutes)


def _clock_text(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _end_text(window: Window) -> str:
    return "24:00" if window.end == MIDNIGHT else _clock_text(window.end)


def _span_text(window: Window) -> str:
    return f"{_clock_text(window.start)}-{_end_text(window)}"


# --- JSON (a JSONField's value) --------------------------------------------------------------


def to_json(schedule: Schedule) -> list[dict[str, object]]:
    """The schedule as JSON data: ``[{"days": [0, 1, 2, 3, 4], "start": "13:00", "end":
    "18:00"}, ...]``, midnight at the end of the day as ``"24:00"``; ``[]`` for always open."""
    return [
        {
            "days": sorted(window.days),
            "start": _clock_text(window.start),
            "end": _end_text(window),
        }
        for window in schedule.windows
    ]


def from_json(value: object) -> Schedule:
    """The schedule ``to_json`` wrote. Raises ``ValueError`` saying what is wrong in the data."""
    if not isinstance(value, list):
        raise ValueError(f"a schedule is a list of windows, not {type(value).__name__}")
    windows = []
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict) or set(item) != {"days", "start", "end"}:
            raise ValueError(f"window {n}: expected {{'days': [...], 'start': ..., 'end': ...}}")
        days = _days_from_json(item["days"], f"window {n}")
        start = _clock_from_json(item["start"], f"window {n}", end=False)
        end = _clock_from_json(item["end"], f"window {n}", end=True)
        try:
            windows.append(Window(days, start, end))
        except ValueError as error:
            raise ValueError(f"window {n}: {error}") from None
    return Schedule(tuple(windows))


def recurrence_to_json(recurrence: Recurrence) -> dict[str, object]:
    """The recurrence as JSON data: ``{"days": [0], "at": "09:00"}``."""
    return {"days": sorted(recurrence.days), "at": _clock_text(recurrence.at)}


def recurrence_from_json(value: object) -> Recurrence:
    """The recurrence ``recurrence_to_json`` wrote. Raises ``ValueError`` saying what is wrong."""
    if not isinstance(value, dict) or set(value) != {"days", "at"}:
        raise ValueError("a recurrence is {'days': [...], 'at': 'HH:MM'}")
    days = _days_from_json(value["days"], "recurrence")
    return Recurrence(days, _clock_from_json(value["at"], "recurrence", end=False))


def _days_from_json(value: object, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value
    ):
        raise ValueError(f"{where}: 'days' is a list of weekdays, 0 (Monday) to 6 (Sunday)")
    return frozenset(value)


def _clock_from_json(value: object, where: str, *, end: bool) -> time:
    if not isinstance(value, str):
        raise ValueError(f"{where}: times are 'HH:MM' strings, not {value!r}")
    try:
        return _parse_clock(value, end=end)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


# --- Instants --------------------------------------------------------------------------------


def local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of the wall time ``at`` on ``day`` in ``tz``, by the DST rule: a wall
    time in a spring-forward gap gives the first instant after the gap, a repeated wall time its
    first occurrence."""
    return _resolve(datetime.combine(day, at), tz)


def _resolve(naive: datetime, tz: tzinfo) -> datetime:
    instant = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the first of two occurrences
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In a gap: the instant where the wall clock jumps over ``naive``. The two readings of the
    # wall time bracket it (PEP 495); search whole seconds, as zones change on whole seconds.
    later = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    earlier = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(earlier, later), max(earlier, later)  # wall(low) < naive <= wall(high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + timedelta(seconds=1)
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def _utc(now: datetime, name: str = "now") -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), not {now!r}")
    return now.astimezone(UTC)


Intervals = tuple[tuple[tuple[int, int], ...], ...]  # per weekday: merged (start, end) minutes
_FULL_DAY: Intervals = tuple(((0, DAY_MINUTES),) for _ in range(7))


@lru_cache(maxsize=512)
def _intervals(schedule: Schedule) -> Intervals:
    per_day = []
    for weekday in range(7):
        merged: list[tuple[int, int]] = []
        for start, end in sorted(
            (w.start_minute, w.end_minute) for w in schedule.windows if weekday in w.days
        ):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        per_day.append(tuple(merged))
    return tuple(per_day)


def always_open(schedule: Schedule) -> bool:
    """Whether the schedule never closes: no window, or windows covering every minute of every
    day (whatever the DST changes, then, since each day's spans reach the next day's)."""
    return not schedule.windows or _intervals(schedule) == _FULL_DAY


def _never_open(schedule: Schedule) -> bool:
    return bool(schedule.windows) and not any(_intervals(schedule))


Span = tuple[datetime, datetime]


def _day_spans(intervals: Intervals, first: date, tz: tzinfo) -> Iterator[tuple[date, list[Span]]]:
    """Each local day from ``first`` on, with its open spans (UTC, ordered, non-empty)."""
    day = first
    start = _resolve(datetime.combine(day, MIDNIGHT), tz)
    while True:
        following = day + ONE_DAY
        naive = datetime.combine(following, MIDNIGHT)
        end = _resolve(naive, tz)
        spans: list[Span] = []
        if intervals[day.weekday()]:
            if end - start == ONE_DAY:  # no DST change this day: wall minutes are real minutes
                spans = [
                    (start + timedelta(minutes=a), start + timedelta(minutes=b))
                    for a, b in intervals[day.weekday()]
                ]
            else:
                naive -= ONE_DAY
                for a, b in intervals[day.weekday()]:
                    low = _resolve(naive + timedelta(minutes=a), tz)
                    high = _resolve(naive + timedelta(minutes=b), tz)
                    if low < high:  # a window wholly inside the gap is closed that day
                        spans.append((low, high))
        yield day, spans
        day, start = following, end


def open_spans(schedule: Schedule, since: datetime, tz: tzinfo) -> Iterator[Span]:
    """The schedule's open spans ``(start, end)`` in UTC, ``start`` inclusive, ``end``
    exclusive, in order, from ``since`` on: touching and overlapping windows merged into one
    span, the first span clipped to start no earlier than ``since``. Endless.

    Raises ``ValueError`` for a schedule that is always open (one endless span: test
    ``always_open`` first) or never open.
    """
    since = _utc(since, "since")
    if always_open(schedule):
        raise ValueError("an always-open schedule has no spans: it never closes")
    if _never_open(schedule):
        raise ValueError("the schedule is never open: give its windows at least one day")
    pending: Span | None = None
    quiet_days = 0
    first = since.astimezone(tz).date() - ONE_DAY  # a span of the day before may reach today
    for _day, spans in _day_spans(_intervals(schedule), first, tz):
        quiet_days = 0 if spans else quiet_days + 1
        if quiet_days > NEVER_OPEN_AFTER_DAYS:
            raise ValueError("the schedule is never open in this time zone")
        for start, end in spans:
            if pending is not None and start <= pending[1]:
                pending = (pending[0], max(pending[1], end))
                continue
            if pending is not None and pending[1] > since:
                yield max(pending[0], since), pending[1]
            pending = (start, end)


def is_open(schedule: Schedule, now: datetime, tz: tzinfo) -> bool:
    """Whether sending may happen at ``now`` (aware) under ``schedule`` read in ``tz``."""
    now = _utc(now)
    if always_open(schedule):
        return True
    if _never_open(schedule):
        return False
    return next(open_spans(schedule, now, tz))[0] == now


def next_open(schedule: Schedule, now: datetime, tz: tzinfo) -> datetime:
    """The first instant at or after ``now`` when the schedule is open (UTC): ``now`` itself if
    open. Raises ``ValueError`` if the schedule has windows but is never open (no days)."""
    now = _utc(now)
    if always_open(schedule):
        return now
    return next(open_spans(schedule, now, tz))[0]


def open_until(schedule: Schedule, now: datetime, tz: tzinfo) -> datetime | None:
    """When the open span holding ``now`` ends (UTC, the first closed instant), windows that
    touch or overlap counting as one span; ``None`` if the schedule never closes. Raises
    ``ValueError`` when the schedule is closed at ``now`` (see ``next_open``)."""
    now = _utc(now)
    if always_open(schedule):
        return None
    start, end = next(open_spans(schedule, now, tz))
    if start != now:
        raise ValueError(
            f"the schedule is closed at {now.isoformat()}: it opens at {start.isoformat()}"
        )
    return end


def next_run(recurrence: Recurrence, after: datetime, tz: tzinfo) -> datetime:
    """The first run of ``recurrence`` strictly after ``after`` (UTC), read in ``tz`` by the DST
    rule: a run at 02:30 on a spring-forward day (no 02:30) happens when the clocks jump (03:00),
    on a fall-back day (two 02:30) only at the first. Raises ``ValueError`` without days."""
    after = _utc(after, "after")
    if not recurrence.days:
        raise ValueError("the recurrence never runs: give it at least one day")
    day = after.astimezone(tz).date() - ONE_DAY  # a zone may fall back across midnight
    for _ in range(10):
        if day.weekday() in recurrence.days:
            run = local_instant(day, recurrence.at, tz)
            if run > after:
                return run
        day += ONE_DAY
    raise AssertionError("unreachable: a weekday comes back within 8 days")  # pragma: no cover


# --- ETA -------------------------------------------------------------------------------------


def eta(
    remaining: int,
    per_second: float | None,
    schedule: Schedule,
    tz: tzinfo,
    now: datetime,
    *,
    daily_cap: int | None = None,
    sent_today: int = 0,
) -> datetime | None:
    """When ``remaining`` messages will all have been sent (UTC), sending from ``now`` on at
    ``per_second`` messages per second while the schedule is open and, with ``daily_cap``, at
    most that many per local day of ``tz`` (``sent_today`` already sent on the day of ``now``).

    Sending is counted as a steady flow: ``n`` messages take ``n / per_second`` seconds of open
    time, so the answer is monotone in ``remaining``. ``per_second=None`` (unpaced) sends
    instantly: the answer is the first open moment of the day the last message goes.
    ``remaining == 0`` gives ``now``; ``None`` means not within a hundred years
    (``ETA_HORIZON_DAYS``). Work is proportional to the days spanned, not the messages.

    Raises ``ValueError`` for a negative count, a rate or cap that is not positive, or a
    schedule that is never open.
    """
    now = _utc(now)
    _check_eta_question(remaining, per_second, schedule, daily_cap, sent_today)
    if remaining == 0:
        return now
    if daily_cap is None and per_second is None:
        return next_open(schedule, now, tz)
    if daily_cap is None and per_second is not None and always_open(schedule):
        seconds = remaining / per_second
        return None if seconds > ETA_HORIZON_DAYS * 86_400 else now + timedelta(seconds=seconds)
    if _beyond_horizon(remaining, per_second, schedule, daily_cap):
        return None
    horizon = now + timedelta(days=ETA_HORIZON_DAYS)
    finish = _send_day_by_day(
        float(remaining),
        per_second,
        _FULL_DAY if always_open(schedule) else _intervals(schedule),
        tz,
        now,
        cap=math.inf if daily_cap is None else float(daily_cap),
        sent_today=sent_today,
        last_day=horizon.astimezone(tz).date(),
    )
    return finish if finish is not None and finish <= horizon else None


def _check_eta_question(
    remaining: int,
    per_second: float | None,
    schedule: Schedule,
    daily_cap: int | None,
    sent_today: int,
) -> None:
    if remaining < 0 or sent_today < 0:
        raise ValueError("remaining and sent_today count messages: they cannot be negative")
    if per_second is not None and not (per_second > 0 and math.isfinite(per_second)):
        raise ValueError(f"the rate must be a positive number of messages, not {per_second!r}")
    if daily_cap is not None and daily_cap < 1:
        raise ValueError(f"a daily cap is at least 1 message, not {daily_cap!r}")
    if _never_open(schedule):
        raise ValueError("the schedule is never open: give its windows at least one day")


def _send_day_by_day(
    left: float,
    per_second: float | None,
    intervals: Intervals,
    tz: tzinfo,
    now: datetime,
    *,
    cap: float,
    sent_today: int,
    last_day: date,
) -> datetime | None:
    """``eta``'s walk over the local days from ``now``: when ``left`` messages are sent, or
    None if not by ``last_day``."""
    today = now.astimezone(tz).date()
    budget_today = max(0.0, cap - sent_today)  # today's (and, in odd zones, yesterday's) share
    for day, spans in _day_spans(intervals, today - ONE_DAY, tz):
        if day > last_day:
            return None
        budget = budget_today if day <= today else cap
        for span_start, end in spans:
            if end <= now or budget <= 0:
                continue
            start = max(span_start, now)
            if per_second is None:  # the day's whole share goes at its first open moment
                sent = min(left, budget)
                left -= sent
                budget -= sent
                if left <= 0:
                    return start
                break
            can = min((end - start).total_seconds() * per_second, budget)
            if left <= can + MESSAGE_EPSILON:
                return start + timedelta(seconds=min(left, can) / per_second)
            left -= can
            budget -= can
        if day <= today:
            budget_today = budget
    raise AssertionError("unreachable: the day loop is endless")  # pragma: no cover


def _beyond_horizon(
    remaining: int, per_second: float | None, schedule: Schedule, daily_cap: int | None
) -> bool:
    """A quick upper bound of what can be sent before the horizon, so that a hopeless ETA
    (a million messages at 10 a day) costs nothing: each day sends at most its cap, and at most
    ``per_second`` times its open time (plus 3 hours, more than any DST change adds)."""
    intervals = _FULL_DAY if always_open(schedule) else _intervals(schedule)
    week = 0.0
    for spans in intervals:
        if not spans:
            continue
        most = math.inf
        if per_second is not None:
            open_seconds = sum(b - a for a, b in spans) * 60 + 3 * 3600
            most = open_seconds * per_second
        if daily_cap is not None:
            most = min(most, daily_cap)
        week += most
    return remaining > week * (ETA_HORIZON_DAYS / 7 + 2)

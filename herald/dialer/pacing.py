"""Pacing arithmetic: which send *slots* (times) a batch of messages may use, so that every rate
holds globally — across all workers together, in every window of the rate's unit.

Pure: no database, no clock read, no I/O; times are integer microseconds since the epoch (exact
arithmetic, no float drift at thousands of slots per second). The shared state lives in one
``PacingState`` row per key (``"campaign:12"``, ``"mailbox:3"``), locked while ``reserve()`` runs
(see ``herald.dialer.queries.reserve_slots``): a worker claims a batch of due deliveries, reserves
that many slots in one state update, then sends each message no earlier than its slot.

Two kinds of limit:

- a **pace** (``spread=True``): "N per second / minute / hour", "wait N seconds between sends",
  the warm-up. Slots are evenly spaced ``ceil(period / N)`` apart, so any window of the period
  holds at most N and the sending is smooth.
- a **cap** (``spread=False``): "at most N per day" (a daily cap, a provider's hourly or daily
  limit). Slots may come as fast as the other limits allow until N are in the window; the next
  one waits until the oldest leaves the window.

The rule each granted slot ``t`` meets, for every limit of every key it is reserved under: the
key's earlier slots in ``(t - period, t]`` number fewer than the limit's count *in effect at t*.
Slots of a key are granted in time order, so no window of the period ever holds more than the
count in effect at its last slot (the warm-up only grows, so that is the largest in the window).

The state keeps a short history of each key's slots, ``(time, sends)`` oldest first. To stay small
(one row update per batch, whatever the rate) close entries are merged into one at the *latest* of
their times: a send then looks later than it was, which can only make a cap stricter, never
looser. The last entry is always exact, which is all a pace needs.

Slots are never in the past (never before ``now``) and idling earns no credit: after a key has
been idle for its longest period, the first slot is ``now`` and the pace resumes from there.

**As received.** A slot is the earliest a message may go; the network and a busy machine make it
go a little later. One late message followed by on-time ones would put N+1 in a window at the
receiving server. So the dialer paces with ``with_tolerance``: every window is widened by
``TOLERANCE_US``, and the transport never starts a message more than ``START_LATE_US`` after its
slot (such a message takes a new slot instead). Any N+1 messages that reach the server within one
period would then have slots within one period plus the tolerance, which the pacer never grants:
the limit holds at the server as long as a transaction reaches it within ``TOLERANCE_US -
START_LATE_US`` of being started. The price is the tolerance's share of each period (5 % of a
per-second rate, nothing measurable per minute and beyond).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

US = 1_000_000  # microseconds per second
SECOND = US
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86400 * US
UNITS = {"second": SECOND, "minute": MINUTE, "hour": HOUR, "day": DAY}
MAX_COUNT = 10**9  # a warm-up stops growing here: far beyond any real rate, far from overflow
DEFAULT_MAX_ENTRIES = 256  # history entries per key: ~6 KB of JSON, precision of 1/256 period
TOLERANCE_US = 50_000  # every window is this much wider than its limit's period (see above)
START_LATE_US = 20_000  # a message that cannot start this soon after its slot takes a new one


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends in any window of ``period_us`` microseconds.

    ``spread`` paces them evenly; otherwise they may burst up to ``count`` (a cap). With a
    ``growth_percent`` the count grows by that many percent per whole day since
    ``warmup_since_us`` (a warm-up), compounding, never beyond ``MAX_COUNT``.
    """

    count: int
    period_us: int
    spread: bool = True
    growth_percent: float = 0.0
    warmup_since_us: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"a limit needs a count of at least 1 send, not {self.count!r}")
        if not isinstance(self.period_us, int) or self.period_us < 1:
            raise ValueError(f"a limit needs a period of at least 1 µs, not {self.period_us!r}")
        if not (0 <= self.growth_percent <= 1000):
            raise ValueError(
                f"a warm-up grows by 0 to 1000 % per day, not {self.growth_percent!r} %"
            )

    def count_at(self, t_us: int) -> int:
        """The count in effect at ``t_us`` (constant unless this limit is a warm-up)."""
        if not self.growth_percent or t_us < self.warmup_since_us + DAY:
            return self.count
        days = (t_us - self.warmup_since_us) // DAY
        grown = self.count * (1 + self.growth_percent / 100) ** min(days, 10_000)
        return int(min(grown, MAX_COUNT))

    def spacing_at(self, t_us: int) -> int:
        """A pace's distance between two slots at ``t_us``: ``count`` of them never fit in a
        period (rounded up, so that integer microseconds never let one more in)."""
        return -(-self.period_us // self.count_at(t_us))


def with_tolerance(limits: Sequence[Limit], tolerance_us: int = TOLERANCE_US) -> list[Limit]:
    """``limits`` with every period widened by ``tolerance_us``: slots that keep them keep the
    original limits at the receiving server even when each message leaves up to that late."""
    return [replace(limit, period_us=limit.period_us + tolerance_us) for limit in limits]


def rate(count: int, unit: str) -> Limit:
    """A pace of ``count`` sends per ``unit`` ("second", "minute", "hour" or "day")."""
    if unit not in UNITS:
        raise ValueError(f"unknown rate unit {unit!r}: use one of {', '.join(UNITS)}")
    return Limit(count, UNITS[unit])


def every(seconds: float) -> Limit:
    """A pace of one send every ``seconds`` ("wait N seconds between two sends")."""
    if not seconds > 0:
        raise ValueError(f"the wait between two sends must be positive, not {seconds!r} s")
    return Limit(1, math.ceil(seconds * US))


def cap(count: int, unit: str = "day") -> Limit:
    """A cap: at most ``count`` sends in any window of one ``unit``, as fast as other limits
    allow until then (a campaign's daily cap; a provider's hourly or daily limit)."""
    if unit not in UNITS:
        raise ValueError(f"unknown cap unit {unit!r}: use one of {', '.join(UNITS)}")
    return Limit(count, UNITS[unit], spread=False)


def warmup(start_per_hour: int, growth_percent: float, since_us: int) -> Limit:
    """A warm-up: a pace of ``start_per_hour`` per hour on its first day, growing by
    ``growth_percent`` % each whole day since ``since_us`` (the campaign's other limits still
    apply, so its own rate is where the warm-up ends)."""
    return Limit(start_per_hour, HOUR, growth_percent=growth_percent, warmup_since_us=since_us)


def campaign_limits(
    *,
    rate_count: int | None = None,
    rate_unit: str = "second",
    wait_seconds: float | None = None,
    daily_cap: int | None = None,
    warmup_per_hour: int | None = None,
    warmup_growth_percent: float = 0.0,
    warmup_since_us: int = 0,
) -> list[Limit]:
    """A campaign's limits from its settings: a rate ("N per unit") or a wait between sends
    (not both), an optional daily cap, an optional warm-up. No setting at all: an empty list,
    which means unpaced."""
    if rate_count is not None and wait_seconds is not None:
        raise ValueError("a campaign is paced by a rate or by a wait between sends, not both")
    limits = []
    if rate_count is not None:
        limits.append(rate(rate_count, rate_unit))
    if wait_seconds is not None:
        limits.append(every(wait_seconds))
    if daily_cap is not None:
        limits.append(cap(daily_cap, "day"))
    if warmup_per_hour is not None:
        limits.append(warmup(warmup_per_hour, warmup_growth_percent, warmup_since_us))
    return limits


def mailbox_limits(
    *, per_second: int | None = None, per_hour: int | None = None, per_day: int | None = None
) -> list[Limit]:
    """A mailbox's provider limits, shared by every campaign on it: per second as a pace (smooth
    sending), per hour and per day as caps (as fast as allowed until the provider's count)."""
    limits = []
    if per_second is not None:
        limits.append(rate(per_second, "second"))
    if per_hour is not None:
        limits.append(cap(per_hour, "hour"))
    if per_day is not None:
        limits.append(cap(per_day, "day"))
    return limits


@dataclass(frozen=True)
class PacerState:
    """One key's slot history: ``(time_us, sends)`` pairs, oldest first; times are upper bounds
    of the sends they count (merged entries carry the latest time), the last one exact."""

    history: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> list[list[int]]:
        """The state as stored in the database (a JSON list of pairs)."""
        return [[t, n] for t, n in self.history]

    @classmethod
    def from_json(cls, value: object) -> PacerState:
        """Reads a stored state; anything that is not a list of pairs counts as empty."""
        if not isinstance(value, list):
            return cls()
        return cls(tuple((int(t), int(n)) for t, n in value))


@dataclass(frozen=True)
class Reservation:
    """What ``reserve`` granted: ``slots`` (nondecreasing, at most ``count``), the keys' new
    states, and ``next_at``, when the next slot could be granted if nobody else took it."""

    slots: list[int]
    states: dict[str, PacerState]
    next_at: int


@dataclass
class _Track:
    """One key during a reservation: its history (mutable copy) and its limits."""

    entries: list[list[int]]
    paces: list[Limit]
    caps: list[Limit]
    # Per cap: index of the first entry still inside the window, and the sends from there on.
    starts: list[int] = field(default_factory=list)
    sums: list[int] = field(default_factory=list)

    def earliest(self, t: int) -> int:
        """The earliest time >= t this key's limits allow for one more send."""
        entries = self.entries
        if entries:
            last = entries[-1][0]
            t = max(t, last)  # a key's slots are granted in time order
            for limit in self.paces:
                t = max(t, last + limit.spacing_at(last))
        for i, limit in enumerate(self.caps):
            period = limit.period_us
            start, total = self.starts[i], self.sums[i]
            while start < len(entries) and entries[start][0] <= t - period:
                total -= entries[start][1]
                start += 1
            self.starts[i], self.sums[i] = start, total
            allowed = limit.count_at(t)
            if total >= allowed:
                # Wait until enough of the oldest sends in the window have left it.
                must_leave = total - allowed + 1
                j = start
                while True:
                    must_leave -= entries[j][1]
                    if must_leave <= 0:
                        break
                    j += 1
                t = max(t, entries[j][0] + period)
        return t

    def add(self, t: int) -> None:
        if self.entries and self.entries[-1][0] == t:
            self.entries[-1][1] += 1
        else:
            self.entries.append([t, 1])
        for i in range(len(self.sums)):
            self.sums[i] += 1

    def state(self, max_entries: int) -> PacerState:
        entries = self.entries
        if not entries:
            return PacerState()
        longest = max(limit.period_us for limit in (*self.paces, *self.caps))
        last = entries[-1][0]
        # Future slots are never before `last`, so older entries can never count again.
        kept = [e for e in entries if e[0] > last - longest] or [entries[-1]]
        if len(kept) > max_entries:
            kept = _merge(kept, max_entries)
        return PacerState(tuple((t, n) for t, n in kept))


def _merge(entries: list[list[int]], max_entries: int) -> list[list[int]]:
    """Merges entries into at most ``max_entries`` equal time buckets, each at its latest time.

    The last bucket's time is the true last slot, so paces stay exact; caps only get stricter.
    """
    first, last = entries[0][0], entries[-1][0]
    width = -(-(last - first + 1) // max_entries)
    merged: list[list[int]] = []
    bucket = -1
    for t, n in entries:
        b = (t - first) // width
        if b == bucket:
            merged[-1][0] = t
            merged[-1][1] += n
        else:
            merged.append([t, n])
            bucket = b
    return merged


def reserve(
    states: Mapping[str, PacerState],
    limits: Mapping[str, Sequence[Limit]],
    count: int,
    now_us: int,
    *,
    horizon_us: int | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> Reservation:
    """Grants up to ``count`` slots that satisfy every limit of every key in ``limits`` at once.

    ``states`` holds each key's stored state (a missing key starts empty). A key with no limits
    is unpaced and left alone; with no limits at all every slot is ``now_us``. Slots are at or after
    ``now_us``; with ``horizon_us``, only slots up to ``now_us + horizon_us`` are granted (maybe
    none), so that a worker never holds deliveries for a slot far ahead — ``next_at`` says when
    to come back. Only the granted slots enter the new states.
    """
    if count < 0:
        raise ValueError(f"cannot reserve a negative number of slots ({count})")
    limits = {key: key_limits for key, key_limits in limits.items() if key_limits}
    if max_entries < 1:
        raise ValueError("a pacing state keeps at least one history entry")
    tracks: list[_Track] = []
    names: list[str] = []
    for key, key_limits in limits.items():
        entries = [[t, n] for t, n in states.get(key, PacerState()).history]
        caps = [limit for limit in key_limits if not limit.spread]
        track = _Track(entries, [limit for limit in key_limits if limit.spread], caps)
        track.starts = [0] * len(caps)
        track.sums = [sum(n for _, n in entries)] * len(caps)
        tracks.append(track)
        names.append(key)
    latest = None if horizon_us is None else now_us + horizon_us
    slots: list[int] = []
    t = now_us
    while True:
        # The earliest time every key allows: each limit only moves t forward, so iterate to a
        # fixed point (two or three passes at most in practice).
        moved = True
        while moved:
            moved = False
            for track in tracks:
                allowed = track.earliest(t)
                if allowed > t:
                    t, moved = allowed, True
        if len(slots) == count or (latest is not None and t > latest):
            break
        for track in tracks:
            track.add(t)
        slots.append(t)
    new_states = {key: track.state(max_entries) for key, track in zip(names, tracks, strict=True)}
    return Reservation(slots, new_states, t)

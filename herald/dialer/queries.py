"""The dialer's hot database paths. The worker loop (issue 5) claims a batch of due deliveries
with ``select_for_update(skip_locked=True)``, calls ``reserve_slots`` once for the whole batch,
then renders, signs and sends each message no earlier than its slot: one locked state update per
batch, never per message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.utils import timezone

from herald.dialer import pacing
from herald.dialer.models import PacingState

DEFAULT_HORIZON = dt.timedelta(seconds=2)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_us(moment: dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (the pacer's time)."""
    if moment.tzinfo is None:
        raise ValueError("pacing needs an aware datetime (USE_TZ): got a naive one")
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def from_us(us: int) -> dt.datetime:
    """Integer microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + dt.timedelta(microseconds=us)


class Slots(list[dt.datetime]):
    """The granted send slots (oldest first), and ``next_at``: when the next one could come."""

    def __init__(self, slots: list[dt.datetime], next_at: dt.datetime) -> None:
        super().__init__(slots)
        self.next_at = next_at


def reserve_slots(
    keys_and_limits: Mapping[str, Sequence[pacing.Limit]],
    count: int,
    now: dt.datetime | None = None,
    *,
    horizon: dt.timedelta | None = DEFAULT_HORIZON,
) -> Slots:
    """Reserves up to ``count`` send slots satisfying every key's limits, across all workers.

    Shaped for exactness under concurrency: the keys' rows are locked in one order (sorted keys,
    so two workers sharing a mailbox never deadlock) for the few microseconds ``pacing.reserve``
    takes, so two workers never get slots that together break a limit. On PostgreSQL that is
    ``SELECT ... FOR UPDATE``; on SQLite the IMMEDIATE write transaction serializes the same
    way. Keys without limits are unpaced and ignored. Slots beyond ``now + horizon`` are not
    granted (the list may be shorter than ``count``, even empty): a worker gives such deliveries
    back and comes back at ``next_at``.

    The worker sends each message no earlier than its slot (``Envelope.not_before``) and should
    reserve just before sending (the default two-second horizon), so that slots are not spent
    late in a bunch: a slot is the earliest a message may go, and a late one is the only way a
    window can see more arrivals than the rate.
    """
    now_us = to_us(now or timezone.now())
    keys_and_limits = {key: limits for key, limits in keys_and_limits.items() if limits}
    if not keys_and_limits:  # unpaced: no row to lock, every message may go now
        return Slots([from_us(now_us)] * count, from_us(now_us))
    keys = sorted(keys_and_limits)
    with transaction.atomic():
        # Missing rows first (a no-op when they exist), so every key can be locked below.
        PacingState.objects.bulk_create(
            [PacingState(key=key) for key in keys], ignore_conflicts=True
        )
        rows = {
            row.key: row
            for row in PacingState.objects.select_for_update().filter(key__in=keys).order_by("key")
        }
        got = pacing.reserve(
            {key: pacing.PacerState.from_json(row.history) for key, row in rows.items()},
            keys_and_limits,
            count,
            now_us,
            horizon_us=None if horizon is None else to_us(_EPOCH + horizon),
        )
        if got.slots:
            stamp = timezone.now()
            for key, row in rows.items():
                row.history = got.states[key].to_json()
                row.updated_at = stamp
            PacingState.objects.bulk_update(rows.values(), ["history", "updated_at"])
    return Slots([from_us(t) for t in got.slots], from_us(got.next_at))

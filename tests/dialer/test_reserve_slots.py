"""reserve_slots: the pacer's state shared through the database, one row per key."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.dialer import pacing
from herald.dialer.models import PacingState
from herald.dialer.queries import reserve_slots

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)


@pytest.mark.django_db
def test_slots_continue_the_pace_where_the_last_reservation_left_it() -> None:
    limits = {"campaign:7": [pacing.rate(10, "second")], "mailbox:2": [pacing.cap(4, "hour")]}
    first = reserve_slots(limits, 3, NOW)
    assert list(first) == [NOW, NOW + 100 * MS, NOW + 200 * MS]
    second = reserve_slots(limits, 3, NOW)  # another worker at the same moment
    assert list(second) == [NOW + 300 * MS]  # the mailbox's hourly cap of 4 is reached
    assert second.next_at == NOW + dt.timedelta(hours=1)
    assert set(PacingState.objects.values_list("key", flat=True)) == {"campaign:7", "mailbox:2"}


@pytest.mark.django_db
def test_a_slot_beyond_the_horizon_is_not_taken_so_nothing_is_held_for_it() -> None:
    limits = {"campaign:8": [pacing.every(60)]}
    assert list(reserve_slots(limits, 5, NOW)) == [NOW]
    later = reserve_slots(limits, 5, NOW + dt.timedelta(seconds=10))
    assert list(later) == []
    assert later.next_at == NOW + dt.timedelta(seconds=60)
    assert list(reserve_slots(limits, 5, later.next_at)) == [later.next_at]


@pytest.mark.django_db
def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        reserve_slots({"campaign:9": [pacing.rate(1, "second")]}, 1, dt.datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.django_db
def test_an_unpaced_campaign_gets_every_slot_now_without_a_pacing_row() -> None:
    assert list(reserve_slots({"campaign:10": []}, 3, NOW)) == [NOW, NOW, NOW]
    assert not PacingState.objects.exists()

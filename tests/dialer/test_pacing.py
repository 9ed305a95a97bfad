"""The pure pacer: never more sends than a limit allows in any window, for every limit at once,
whatever the batch sizes, the workers' interleaving and their clocks; no slot in the past; no
burst and no lost time after idling."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.dialer import pacing
from herald.dialer.pacing import DAY, SECOND, Limit, PacerState, reserve

T0 = 1_800_000_000 * SECOND  # an arbitrary "now" in 2027


def assert_no_window_over(slots: list[int], limit: Limit) -> None:
    """Every window of the limit's period holds at most the count in effect at its last slot."""
    slots = sorted(slots)
    first = 0
    for m, t in enumerate(slots):
        while slots[first] <= t - limit.period_us:
            first += 1
        last = m
        while last + 1 < len(slots) and slots[last + 1] == t:
            last += 1  # equal times are all inside the window that ends at t
        in_window = last - first + 1
        assert in_window <= limit.count_at(t), (
            f"{in_window} sends in the window ending at {t} under {limit}"
        )


periods = st.sampled_from([1_000, 7_000, 50_000, SECOND, 3 * SECOND])
limits = st.builds(
    Limit,
    count=st.integers(1, 12),
    period_us=periods,
    spread=st.booleans(),
    growth_percent=st.sampled_from([0.0, 0.0, 10.0, 50.0, 100.0]),
    warmup_since_us=st.integers(T0 - 2 * DAY, T0 + DAY),
)
key_limits = st.lists(limits, min_size=1, max_size=3)
# Campaigns a and b share mailbox m, as two campaigns on one mailbox do.
USES = [("campaign:a", "mailbox:m"), ("campaign:b", "mailbox:m"), ("campaign:a",), ("mailbox:m",)]
steps = st.lists(
    st.tuples(
        st.integers(0, len(USES) - 1),  # which keys this worker reserves under
        st.integers(0, 40),  # batch size
        st.one_of(  # clock advance before the step
            st.integers(0, 20_000), st.integers(0, 4 * SECOND), st.sampled_from([DAY, DAY // 3])
        ),
        st.integers(-5_000, 5_000),  # this worker's clock skew
        st.one_of(st.none(), st.integers(0, 2 * SECOND)),  # horizon
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    config=st.fixed_dictionaries(
        {"campaign:a": key_limits, "campaign:b": key_limits, "mailbox:m": key_limits}
    ),
    plan=steps,
    max_entries=st.integers(1, 8),
)
def test_no_window_of_any_limit_ever_holds_more_than_its_count(
    config: dict[str, list[Limit]],
    plan: list[tuple[int, int, int, int, int | None]],
    max_entries: int,
) -> None:
    states: dict[str, PacerState] = {}
    granted: dict[str, list[int]] = defaultdict(list)
    clock = T0
    for use, batch, advance, skew, horizon in plan:
        clock += advance
        now = clock + skew
        keys = USES[use]
        got = reserve(
            states,
            {k: config[k] for k in keys},
            batch,
            now,
            horizon_us=horizon,
            max_entries=max_entries,
        )
        assert len(got.slots) <= batch
        assert all(t >= now for t in got.slots), "a slot was granted in the past"
        assert got.slots == sorted(got.slots)
        if horizon is not None:
            assert all(t <= now + horizon for t in got.slots)
            if len(got.slots) < batch:
                assert got.next_at > now + horizon
        else:
            assert len(got.slots) == batch
        assert got.next_at >= (got.slots[-1] if got.slots else now)
        for key in keys:
            assert len(got.states[key].history) <= max_entries
            granted[key].extend(got.slots)
        states.update(got.states)
    for key, slots in granted.items():
        for limit in config[key]:
            assert_no_window_over(slots, limit)


@settings(max_examples=200, deadline=None)
@given(
    config=key_limits,
    batches=st.lists(st.integers(1, 30), min_size=1, max_size=10),
    idle_extra=st.integers(0, 3 * SECOND),
    max_entries=st.integers(1, 8),
)
def test_after_idling_a_whole_period_the_first_slot_is_now_and_the_rate_holds_again(
    config: list[Limit], batches: list[int], idle_extra: int, max_entries: int
) -> None:
    states: dict[str, PacerState] = {}
    granted: list[int] = []
    now = T0
    for batch in batches:
        got = reserve(states, {"k": config}, batch, now, max_entries=max_entries)
        states, granted = got.states, granted + got.slots
        now = got.slots[-1]
    longest = max(limit.period_us for limit in config)
    now = granted[-1] + longest + idle_extra
    got = reserve(states, {"k": config}, 25, now, max_entries=max_entries)
    assert got.slots[0] == now, "idle time was lost: the first slot after idling is late"
    for limit in config:
        assert_no_window_over(granted + got.slots, limit)


def test_twenty_per_second_is_one_slot_every_fifty_milliseconds() -> None:
    got = reserve({}, {"campaign:1": [pacing.rate(20, "second")]}, 5, T0)
    assert got.slots == [T0 + i * 50_000 for i in range(5)]
    assert got.next_at == T0 + 250_000


def test_batches_from_two_workers_continue_one_pace_instead_of_overlapping() -> None:
    limits = {"campaign:1": [pacing.rate(10, "second")]}
    first = reserve({}, limits, 3, T0)
    second = reserve(first.states, limits, 3, T0)  # another worker, same moment
    assert second.slots == [T0 + 300_000, T0 + 400_000, T0 + 500_000]


def test_a_wait_between_sends_spaces_every_slot_by_that_wait() -> None:
    got = reserve({}, {"campaign:1": [pacing.every(2.5)]}, 3, T0)
    assert got.slots == [T0, T0 + 2_500_000, T0 + 5_000_000]


def test_a_daily_cap_lets_the_pace_run_until_the_cap_then_waits_a_day_from_the_first_send() -> None:
    limits = {"campaign:1": [pacing.rate(100, "second"), pacing.cap(5, "day")]}
    got = reserve({}, limits, 8, T0)
    assert got.slots[:5] == [T0 + i * 10_000 for i in range(5)]
    assert got.slots[5:] == [T0 + DAY, T0 + DAY + 10_000, T0 + DAY + 20_000]


def test_a_horizon_grants_only_the_slots_due_soon_and_says_when_to_come_back() -> None:
    limits = {"campaign:1": [pacing.rate(1, "minute")]}
    first = reserve({}, limits, 10, T0, horizon_us=SECOND)
    assert first.slots == [T0]
    assert first.next_at == T0 + 60 * SECOND
    later = reserve(first.states, limits, 10, T0 + 30 * SECOND, horizon_us=SECOND)
    assert later.slots == []
    assert later.states["campaign:1"] == first.states["campaign:1"]


def test_a_mailbox_limit_is_shared_by_every_campaign_using_the_mailbox() -> None:
    mailbox = [pacing.rate(2, "second")]
    a = reserve({}, {"campaign:a": [pacing.rate(50, "second")], "mailbox:1": mailbox}, 2, T0)
    b = reserve(a.states, {"campaign:b": [pacing.rate(50, "second")], "mailbox:1": mailbox}, 2, T0)
    assert a.slots == [T0, T0 + 500_000]
    assert b.slots == [T0 + 1_000_000, T0 + 1_500_000]


def test_a_warm_up_grows_its_hourly_pace_each_day() -> None:
    limit = pacing.warmup(10, 50, since_us=T0)
    assert [limit.count_at(T0 + d * DAY) for d in range(4)] == [10, 15, 22, 33]
    day_two = reserve({}, {"campaign:1": [limit]}, 2, T0 + 2 * DAY)
    assert day_two.slots[1] - day_two.slots[0] == -(-3600 * SECOND // 22)


def test_the_state_round_trips_through_json_and_stays_small_at_high_rates() -> None:
    got = reserve({}, {"campaign:1": [pacing.rate(5000, "second"), pacing.cap(10**6)]}, 5000, T0)
    state = got.states["campaign:1"]
    assert len(state.history) <= pacing.DEFAULT_MAX_ENTRIES
    assert sum(n for _, n in state.history) == 5000
    assert PacerState.from_json(state.to_json()) == state


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: pacing.rate(0, "second"), "at least 1 send"),
        (lambda: pacing.rate(5, "fortnight"), "unknown rate unit"),
        (lambda: pacing.every(0), "must be positive"),
        (lambda: pacing.warmup(10, -5, since_us=T0), "grows by 0 to 1000"),
    ],
)
def test_a_bad_limit_is_refused_with_what_to_fix(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_limits_are_built_from_a_campaigns_and_a_mailboxs_settings() -> None:
    assert pacing.campaign_limits(rate_count=3, rate_unit="minute", daily_cap=500) == [
        Limit(3, 60 * SECOND),
        Limit(500, DAY, spread=False),
    ]
    assert pacing.campaign_limits(wait_seconds=2) == [Limit(1, 2 * SECOND)]
    assert pacing.mailbox_limits(per_second=14, per_day=50_000) == [
        Limit(14, SECOND),
        Limit(50_000, DAY, spread=False),
    ]
    with pytest.raises(ValueError, match="not both"):
        pacing.campaign_limits(rate_count=3, wait_seconds=2)


def test_a_campaign_without_pacing_sends_now_but_its_mailbox_limit_still_holds() -> None:
    unpaced = reserve({}, {"campaign:1": []}, 3, T0)
    assert unpaced.slots == [T0, T0, T0]
    assert unpaced.states == {}
    mailbox = reserve(
        {}, {"campaign:1": [], "mailbox:1": pacing.mailbox_limits(per_second=2)}, 3, T0
    )
    assert mailbox.slots == [T0, T0 + 500_000, T0 + 1_000_000]
    assert set(mailbox.states) == {"mailbox:1"}

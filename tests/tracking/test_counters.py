"""The statistics agree with the event log, whatever mix of opens, clicks, ratings and
unsubscriptions came in, in whatever batches."""

from __future__ import annotations

import collections
import datetime as dt
import random

import pytest
from django.db.models import Sum
from django.utils import timezone

from herald.campaigns.models import Delivery, Event
from herald.tracking import queries, recording
from herald.tracking.actions import do_unsubscribe
from herald.tracking.models import Engagement, Tally
from tests.tracking.conftest import PEOPLE

pytestmark = pytest.mark.django_db

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0",  # Apple MPP
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "python-requests/2.31.0",
]


def _random_hits(deliveries, rng, count, start):
    hits = []
    for i in range(count):
        delivery = rng.choice(deliveries)
        kind = rng.choice([recording.OPEN, recording.OPEN, recording.CLICK, recording.RATE])
        hits.append(
            recording.Hit(
                kind=kind,
                delivery_id=delivery.pk,
                at=start + dt.timedelta(minutes=7 * i + rng.randint(0, 5)),
                user_agent=rng.choice(AGENTS),
                ip=f"198.51.100.{rng.randint(1, 250)}",
                link=rng.choice([0, 1, 2, 7]) if kind == recording.CLICK else None,
                score=rng.randint(0, 5) if kind == recording.RATE else None,
            )
        )
    return hits


@pytest.fixture
def busy_campaign(send_campaign):
    people = [
        {"first_name": f"P{i}", "emails": [f"p{i}@example.com"], "fields": {"customer_id": str(i)}}
        for i in range(12)
    ]
    sent = send_campaign(people=[*PEOPLE, *people])
    deliveries = list(Delivery.objects.filter(campaign=sent.campaign))
    start = timezone.now() - dt.timedelta(days=2)
    Delivery.objects.filter(campaign=sent.campaign).update(sent_at=start)
    recording.forget()
    rng = random.Random(20261122)
    hits = _random_hits(deliveries, rng, 400, start + dt.timedelta(seconds=30))
    results = []
    while hits:  # batches of every size, as the fast path makes them
        size = rng.randint(1, 60)
        results += recording.record(hits[:size])
        hits = hits[size:]
    for delivery in deliveries[:4]:
        do_unsubscribe(delivery, via="one-click")
        do_unsubscribe(delivery, via="page")  # idempotent: counted once
    return sent.campaign, results


def _events(campaign, kind):
    return list(Event.objects.filter(campaign=campaign, kind=kind))


def test_every_tally_equals_the_events_it_counts(busy_campaign):
    campaign, results = busy_campaign
    counts = queries.tallies(campaign.pk)
    for kind in ("sent", "opened", "clicked", "rated", "unsubscribed", "launched", "completed"):
        assert counts.get(kind, 0) == Event.objects.filter(campaign=campaign, kind=kind).count()
    assert counts["unsubscribed"] == 4
    for kind in ("opened", "clicked", "rated"):
        events = _events(campaign, kind)
        people = [e for e in events if not e.data["machine"]]
        assert counts.get(f"{kind}:human", 0) == len(people), kind
        assert counts.get(f"{kind}:machine", 0) == len(events) - len(people), kind
    # 404s (an unknown link, a score of 0) were answered and recorded nothing.
    assert sum(r.found for r in results) == sum(
        len(_events(campaign, k)) for k in ("opened", "clicked", "rated")
    )


def test_unique_readers_and_clickers_equal_the_people_in_the_log(busy_campaign):
    campaign, _ = busy_campaign
    counts = queries.counters(campaign.pk)
    readers = {e.delivery_id for e in _events(campaign, "opened") if not e.data["machine"]}
    clickers = {e.delivery_id for e in _events(campaign, "clicked") if not e.data["machine"]}
    assert counts.read == len(readers) == Engagement.objects.filter(read_at__isnull=False).count()
    assert counts.clicked == len(clickers)
    machine_openers = {e.delivery_id for e in _events(campaign, "opened") if e.data["machine"]}
    assert counts.tally("opened:unique_machine") == len(machine_openers)


def test_each_link_counts_its_requests_and_its_unique_clickers(busy_campaign):
    campaign, _ = busy_campaign
    counts = queries.counters(campaign.pk)
    rows = queries.link_rows(campaign, recording.campaign_links(campaign), counts)
    assert [r.url for r in rows] == [
        "https://example.com/offer",
        "https://example.com/terms?a=1&b=2",
        "https://example.com/me?id=${customer_id|none}",
    ]
    clicks = _events(campaign, "clicked")
    for row in rows:
        on_link = [e for e in clicks if e.data["link"] == row.index]
        assert row.clicks == len(on_link) > 0
        assert row.unique == len({e.delivery_id for e in on_link if not e.data["machine"]})
    assert not [e for e in clicks if e.data["link"] == 7]  # not a link of the template


def test_ratings_are_each_recipients_latest_and_machines_never_rate(busy_campaign):
    campaign, _ = busy_campaign
    latest: dict[int, int] = {}
    for e in sorted(_events(campaign, "rated"), key=lambda e: (e.at, e.pk)):
        if not e.data["machine"]:
            latest[e.delivery_id] = e.data["score"]
    expected = collections.Counter(latest.values())
    assert queries.ratings(campaign.pk) == dict(expected)
    counters = queries.counters(campaign.pk)
    assert counters.rated == len(latest)
    assert counters.rating_average == pytest.approx(sum(latest.values()) / len(latest))


def test_the_timeline_adds_up_to_the_totals(busy_campaign):
    campaign, _ = busy_campaign
    points = queries.timeline(campaign.pk)
    counts = queries.tallies(campaign.pk)
    assert len(points) > 10  # the hits spread over two days
    assert sum(p.sent for p in points) == counts["sent"]
    assert sum(p.opened for p in points) == counts["opened:unique"]
    assert sum(p.clicked for p in points) == counts["clicked:unique"]
    for p in points:  # each open is in the hour it happened
        in_hour = [
            e
            for e in _events(campaign, "opened")
            if p.hour <= e.at < p.hour + dt.timedelta(hours=1) and "unique" in e.data["tally"]
        ]
        assert p.opened == len(in_hour)


def test_the_statistics_page_shows_the_same_numbers(busy_campaign, client_for, mike):
    campaign, _ = busy_campaign
    counts = queries.counters(campaign.pk)
    page = client_for(mike).get(f"/campaigns/{campaign.pk}/stats/live/").content.decode()
    assert f'data-testid="count-read">{counts.read}<' in page
    assert f'data-testid="count-clicked">{counts.clicked}<' in page
    assert f'data-testid="count-unsubscribed">{counts.tally("unsubscribed")}<' in page
    assert f'data-testid="count-sent">{counts.sent}<' in page


def test_tallies_are_rebuilt_from_events_by_the_migration_query(busy_campaign):
    """The backfill of migration 0001 (for events written before it) gives the same tallies."""
    import importlib

    from django.db import connection

    migration = importlib.import_module(
        "herald.tracking.migrations.0001_tallies_engagement_triggers"
    )

    assert busy_campaign  # the campaign with its events

    def totals():
        rows = Tally.objects.values_list("campaign_id", "hour", "name").annotate(total=Sum("n"))
        return sorted(rows)

    before = totals()
    Tally.objects.all().delete()
    backfill = (
        migration.POSTGRES_BACKFILL
        if connection.vendor == "postgresql"
        else migration.SQLITE_BACKFILL
    )
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert totals() == before

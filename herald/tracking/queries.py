"""The reads behind the campaign statistics and the supervisor dashboard.

Shaped for a campaign of a million deliveries and several million events, read every few
seconds by every supervisor watching it:

- event counts come from ``Tally`` (one row per campaign, hour and name, kept by trigger): a
  sum over a few hundred rows instead of a count over millions of events;
- delivery states come from the ``delivery_state`` index (campaign, state): the current state
  of each delivery (what is still to send, what is deferred now), which events cannot say;
- ratings, and who opened or clicked, come from ``Engagement`` through its (campaign, ...)
  indexes, a page at a time;
- the rate of sending now counts the last minute's sent events through the event index
  (campaign, kind, at).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from herald.campaigns.models import Campaign, Event, EventKind
from herald.campaigns.queries import progress, skipped_reasons
from herald.tracking.chart import Point
from herald.tracking.models import Engagement, Tally

RATE_WINDOW = dt.timedelta(seconds=60)


@dataclass
class Counters:
    """Everything a campaign's statistics page counts."""

    progress: dict[str, int]  # deliveries by state, total and to_send
    skipped_reasons: list[tuple[str, int]]
    tallies: dict[str, int]  # event counts by tally name, over the whole campaign
    ratings: dict[int, int] = field(default_factory=dict)  # score -> recipients (latest rating)

    def tally(self, name: str) -> int:
        return self.tallies.get(name, 0)

    @property
    def sent(self) -> int:
        # A bounce comes back after the message went: it was sent all the same.
        return self.progress["sent"] + self.progress["bounced"]

    @property
    def read(self) -> int:
        return self.tally("opened:unique")

    @property
    def clicked(self) -> int:
        return self.tally("clicked:unique")

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def rating_average(self) -> float | None:
        if not self.rated:
            return None
        return sum(score * n for score, n in self.ratings.items()) / self.rated

    def percent(self, part: int) -> float | None:
        return round(100 * part / self.sent, 1) if self.sent else None


def tallies(campaign_id: int) -> dict[str, int]:
    """Event counts of a campaign by tally name (``sent``, ``opened:human``, ...)."""
    rows = (
        Tally.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values("name")
        .annotate(total=Sum("n"))
    )
    return {row["name"]: row["total"] for row in rows}


def ratings(campaign_id: int) -> dict[int, int]:
    """How many recipients gave each score (their latest rating; machines' never count)."""
    rows = (
        Engagement.objects.filter(campaign_id=campaign_id, rating__isnull=False)
        .order_by()
        .values_list("rating")
        .annotate(n=Count("pk"))
    )
    return {score: n for score, n in rows if score is not None}


def counters(campaign_id: int) -> Counters:
    return Counters(
        progress=progress(campaign_id),
        skipped_reasons=skipped_reasons(campaign_id),
        tallies=tallies(campaign_id),
        ratings=ratings(campaign_id),
    )


TIMELINE_NAMES = {"sent": "sent", "opened:unique": "opened", "clicked:unique": "clicked"}


def timeline(campaign_id: int) -> list[Point]:
    """Per hour: messages sent, people who opened (first human open) and who clicked."""
    by_hour: dict[dt.datetime, dict[str, int]] = {}
    rows = Tally.objects.filter(campaign_id=campaign_id, name__in=TIMELINE_NAMES).values_list(
        "hour", "name", "n"
    )
    for hour, name, n in rows:  # one row per shard: added up
        counts = by_hour.setdefault(hour, {})
        key = TIMELINE_NAMES[name]
        counts[key] = counts.get(key, 0) + n
    return [Point(hour, **values) for hour, values in sorted(by_hour.items())]


@dataclass(frozen=True)
class LinkRow:
    index: int
    url: str  # the URL, or how the template builds it when it depends on the recipient
    clicks: int  # every request, machines' included
    unique: int  # recipients who clicked it (people only)


def link_rows(
    campaign: Campaign, targets: dict[int, str | None], counts: Counters
) -> list[LinkRow]:
    """One row per link of the sent template version, in the template's order."""
    version = campaign.version or campaign.template.current_version
    shown = (version.report or {}).get("links", []) if version is not None else []
    rows = []
    for index in sorted(targets):
        url = targets[index] or (shown[index] if index < len(shown) else f"#{index}")
        rows.append(
            LinkRow(
                index=index,
                url=url,
                clicks=counts.tally(f"clicked:link:{index}"),
                unique=counts.tally(f"clicked:link:{index}:unique"),
            )
        )
    return rows


@dataclass(frozen=True)
class Person:
    """One recipient in "who opened" / "who clicked"."""

    delivery_id: int
    contact_id: int
    email: str
    name: str
    first_open_at: dt.datetime | None
    read_at: dt.datetime | None
    last_open_at: dt.datetime | None
    opens: int
    machine_opens: int
    first_click_at: dt.datetime | None
    clicked_at: dt.datetime | None
    last_click_at: dt.datetime | None
    clicks: int
    machine_clicks: int
    links: list[int]
    rating: int | None
    unsubscribed_at: dt.datetime | None


WHAT = ("opened", "clicked", "rated", "unsubscribed")
WHO = ("all", "human", "machine")


def _people(campaign_id: int, what: str, who: str, search: str) -> QuerySet[Engagement]:
    found = Engagement.objects.filter(campaign_id=campaign_id)
    if what == "clicked":
        found = found.filter(first_click_at__isnull=False).order_by("-first_click_at", "-pk")
        if who == "human":
            found = found.filter(clicked_at__isnull=False)
        elif who == "machine":
            found = found.filter(clicked_at__isnull=True)
    elif what == "rated":
        found = found.filter(rating__isnull=False).order_by("-rated_at", "-pk")
    elif what == "unsubscribed":
        found = found.filter(unsubscribed_at__isnull=False).order_by("-unsubscribed_at", "-pk")
    else:
        found = found.filter(first_open_at__isnull=False).order_by("-first_open_at", "-pk")
        if who == "human":
            found = found.filter(read_at__isnull=False)
        elif who == "machine":
            found = found.filter(read_at__isnull=True)
    if search:
        found = found.filter(
            Q(delivery__email__icontains=search)
            | Q(delivery__contact__first_name__icontains=search)
            | Q(delivery__contact__last_name__icontains=search)
        )
    return found


def _person(e: Engagement, names: dict[int, str]) -> Person:
    delivery = e.delivery
    return Person(
        delivery_id=e.delivery_id,
        contact_id=delivery.contact_id,
        email=delivery.email,
        name=names.get(delivery.contact_id, ""),
        first_open_at=e.first_open_at,
        read_at=e.read_at,
        last_open_at=e.last_open_at,
        opens=e.opens,
        machine_opens=e.machine_opens,
        first_click_at=e.first_click_at,
        clicked_at=e.clicked_at,
        last_click_at=e.last_click_at,
        clicks=e.clicks,
        machine_clicks=e.machine_clicks,
        links=list(e.links or []),
        rating=e.rating,
        unsubscribed_at=e.unsubscribed_at,
    )


def _people_of(rows: list[Engagement]) -> list[Person]:
    # Contact names in one query for the page, not a join: a delivery outlives its contact
    # (no foreign key constraint), and a join would drop it from the list.
    from herald.contacts.models import Contact

    ids = {e.delivery.contact_id for e in rows}
    names = {c.pk: str(c) for c in Contact.objects.filter(pk__in=ids)}
    return [_person(e, names) for e in rows]


def people(
    campaign_id: int,
    what: str = "opened",
    who: str = "all",
    search: str = "",
    *,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Person], bool]:
    """A page of recipients who opened (or clicked, rated, unsubscribed), latest first, and
    whether there is a next page. Reads limit+1 rows through the (campaign, time) index."""
    found = _people(campaign_id, what, who, search).select_related("delivery")
    rows = list(found[offset : offset + limit + 1])
    return _people_of(rows[:limit]), len(rows) > limit


def all_people(campaign_id: int, what: str, who: str, search: str) -> Iterator[Person]:
    """Every matching recipient, streamed in chunks (the CSV export)."""
    found = _people(campaign_id, what, who, search).select_related("delivery")
    chunk: list[Engagement] = []
    for e in found.iterator(chunk_size=2000):
        chunk.append(e)
        if len(chunk) == 2000:
            yield from _people_of(chunk)
            chunk = []
    yield from _people_of(chunk)


# -- the supervisor dashboard ------------------------------------------------------------------


@dataclass(frozen=True)
class LastError:
    at: dt.datetime
    kind: str
    detail: str


def rate_now(campaign_id: int, now: dt.datetime | None = None) -> float:
    """Messages sent per second over the last minute."""
    now = now or timezone.now()
    sent = Event.objects.filter(
        campaign_id=campaign_id, kind=EventKind.SENT, at__gt=now - RATE_WINDOW, at__lte=now
    ).count()
    return sent / RATE_WINDOW.total_seconds()


def last_error(campaign_id: int) -> LastError | None:
    """The latest failed or deferred attempt (through the event index, one kind at a time)."""
    latest = None
    for kind in (EventKind.FAILED, EventKind.DEFERRED):
        event = (
            Event.objects.filter(campaign_id=campaign_id, kind=kind)
            .order_by("-at")
            .values_list("at", "kind", "detail")
            .first()
        )
        if event is not None and (latest is None or event[0] > latest.at):
            latest = LastError(*event)
    return latest


def watched_campaigns() -> list[Campaign]:
    """What a supervisor watches: running, scheduled and paused campaigns."""
    return list(
        Campaign.objects.filter(status__in=("running", "scheduled", "paused"))
        .select_related("mailbox")
        .order_by("status", "next_run_at", "name")
    )


@dataclass(frozen=True)
class Rates:
    """What a campaign got, as the campaigns list and page show it: people who read, clicked
    and replied, each also as a percentage of the messages sent (None before any was sent)."""

    sent: int
    read: int
    clicked: int
    replied: int

    def percent(self, part: int) -> float | None:
        return round(100 * part / self.sent, 1) if self.sent else None

    @property
    def read_percent(self) -> float | None:
        return self.percent(self.read)

    @property
    def clicked_percent(self) -> float | None:
        return self.percent(self.clicked)

    @property
    def replied_percent(self) -> float | None:
        return self.percent(self.replied)


def rates(campaign_id: int) -> Rates:
    from herald.conversations.models import Conversation

    counts = tallies(campaign_id)
    return Rates(
        sent=counts.get("sent", 0),
        read=counts.get("opened:unique", 0),
        clicked=counts.get("clicked:unique", 0),
        replied=Conversation.objects.filter(campaign_id=campaign_id).count(),
    )

"""Campaign statistics in the API (managers): the figures of the statistics page, who opened,
clicked, rated or unsubscribed, and the deliveries with their states and attempts."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from herald.api import auth
from herald.campaigns.models import Campaign, Delivery, DeliveryState
from herald.tracking import queries, recording

router = Router(tags=["statistics"])
MAX_PAGE = 1000


@router.get("/campaigns/{campaign_id}/statistics", response=dict, auth=auth.MANAGER)
def statistics(request: HttpRequest, campaign_id: int) -> dict:
    """The statistics page's figures: deliveries by state, people who read and clicked (and
    machines apart), unsubscribes, replies, ratings, each link, and the hourly timeline."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    counts = queries.counters(campaign.pk)
    targets = recording.campaign_links(campaign)
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "deliveries": counts.progress,
        "skipped_reasons": dict(counts.skipped_reasons),
        "sent": counts.sent,
        "read": counts.read,
        "read_percent": counts.percent(counts.read),
        "read_by_machines_only": counts.tally("opened:unique_machine"),
        "opens": {"human": counts.tally("opened:human"), "machine": counts.tally("opened:machine")},
        "clicked": counts.clicked,
        "clicked_percent": counts.percent(counts.clicked),
        "clicked_by_machines_only": counts.tally("clicked:unique_machine"),
        "clicks": {
            "human": counts.tally("clicked:human"),
            "machine": counts.tally("clicked:machine"),
        },
        "unsubscribed": counts.tally("unsubscribed"),
        "replied": counts.tally("replied"),
        "bounced": counts.tally("bounced"),
        "complained": counts.tally("complained"),
        "rated": counts.rated,
        "rating_average": counts.rating_average,
        "ratings": {str(score): counts.ratings.get(score, 0) for score in recording.RATING_SCORES},
        "links": [dataclasses.asdict(row) for row in queries.link_rows(campaign, targets, counts)],
        "timeline": [dataclasses.asdict(point) for point in queries.timeline(campaign.pk)],
    }


class PeopleFilter(Schema):
    what: Literal["opened", "clicked", "rated", "unsubscribed"] = "opened"
    who: Literal["all", "human", "machine"] = "all"
    q: str = ""
    offset: int = 0
    limit: int = 100


@router.get("/campaigns/{campaign_id}/people", response=dict, auth=auth.MANAGER)
def people(request: HttpRequest, campaign_id: int, filters: Query[PeopleFilter]) -> dict:
    """Who opened, clicked, rated or unsubscribed (people, machines or both), with when and how
    often; ``q`` searches their address or name."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    found, more = queries.people(
        campaign.pk,
        filters.what,
        filters.who,
        filters.q[:200],
        offset=max(0, filters.offset),
        limit=max(1, min(filters.limit, MAX_PAGE)),
    )
    return {"people": [dataclasses.asdict(p) for p in found], "more": more}


class DeliveryOut(Schema):
    id: int
    contact_id: int | None
    email: str
    state: str
    reason: str
    attempts: int
    first_attempt_at: datetime | None
    sent_at: datetime | None
    code: int | None
    reply: str


class DeliveryFilter(Schema):
    state: DeliveryState | None = None
    after: int = 0  # the last id of the previous page
    limit: int = 500


@router.get("/campaigns/{campaign_id}/deliveries", response=list[DeliveryOut], auth=auth.MANAGER)
def deliveries(
    request: HttpRequest, campaign_id: int, filters: Query[DeliveryFilter]
) -> list[Delivery]:
    """The campaign's deliveries in id order, a page after ``after``: state, attempts, the
    receiving server's last answer."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    rows = Delivery.objects.filter(campaign=campaign, pk__gt=filters.after).order_by("pk")
    if filters.state:
        rows = rows.filter(state=filters.state)
    return list(rows[: max(1, min(filters.limit, MAX_PAGE))])

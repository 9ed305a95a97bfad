"""The supervisor's figures: queues, service levels, agents and campaigns, as the supervisor
page, the API (``GET /api/v1/supervisor``) and ``/metrics`` show them.

Service level: of the customer conversations that began in a period (the customer's first
message), the share answered within the mailbox's target time. Those still unanswered count as
missed once the target time has passed, and are left out until then: a conversation that began
a minute ago has not missed anything yet. "Now" is the last hour; "today" since midnight in the
account's time zone.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Min, Q
from django.utils import timezone

from herald.accounts.models import Account, User
from herald.campaigns.models import Campaign
from herald.conversations.models import Conversation, MailboxMember, Origin
from herald.mailboxes.models import Mailbox
from herald.routing.actions import capacity_of, loads, queue
from herald.routing.models import Presence, PresenceStatus
from herald.tracking.queries import tallies

NOW_WINDOW = dt.timedelta(hours=1)
MAX_CAMPAIGNS = 20


@dataclass
class AgentFigures:
    id: int
    name: str
    presence: str
    load: int
    capacity: int | None
    handled_today: int
    median_first_response_s: float | None
    median_handling_s: float | None


@dataclass
class MailboxFigures:
    id: int
    name: str
    auto_assign: bool
    queue: int
    oldest_waiting_s: float | None
    waiting: int  # customers waiting for an answer, assigned or not
    level: str  # "ok", "warning" or "critical", from the oldest waiting
    target_percent: int
    target_s: int
    service_level_now: float | None  # percent
    service_level_today: float | None
    agents: list[AgentFigures] = field(default_factory=list)

    @property
    def available(self) -> int:
        return sum(a.presence == PresenceStatus.AVAILABLE for a in self.agents)


@dataclass
class CampaignFigures:
    id: int
    name: str
    status: str
    sent: int
    replies: int
    reply_rate: float | None  # percent of sent
    waiting: int


def midnight(now: dt.datetime) -> dt.datetime:
    """The start of today in the account's time zone."""
    zone = zoneinfo.ZoneInfo(Account.load().timezone)
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def service_level(mailbox: Mailbox, since: dt.datetime, now: dt.datetime) -> float | None:
    """Percent of the customer conversations begun since ``since`` answered within the
    mailbox's target (see the module's docstring); None when none counts yet."""
    target = dt.timedelta(seconds=mailbox.service_level_seconds)
    within = Q(first_answer_at__isnull=False, first_answer_at__lte=F("created_at") + target)
    missed = Q(first_answer_at__gt=F("created_at") + target) | Q(
        first_answer_at__isnull=True, created_at__lt=now - target
    )
    counts = Conversation.objects.filter(
        mailbox=mailbox, origin=Origin.INBOUND, created_at__gte=since
    ).aggregate(met=Count("id", filter=within), missed=Count("id", filter=missed))
    counted = counts["met"] + counts["missed"]
    return round(100 * counts["met"] / counted, 1) if counted else None


def _median_seconds(spans: list[dt.timedelta]) -> float | None:
    return round(statistics.median(s.total_seconds() for s in spans), 1) if spans else None


def agent_figures(mailbox: Mailbox, today: dt.datetime) -> list[AgentFigures]:
    members = list(MailboxMember.objects.filter(mailbox=mailbox).select_related("user"))
    ids = [m.user_id for m in members]
    presence = dict(Presence.objects.filter(user_id__in=ids).values_list("user_id", "status"))
    held = loads(mailbox.pk, ids)
    handled: dict[int, int] = defaultdict(int)
    handling: dict[int, list[dt.timedelta]] = defaultdict(list)  # from assignment to close
    for closer, assigned_at, closed_at in Conversation.objects.filter(
        mailbox=mailbox, closed_at__gte=today, closed_by_id__in=ids
    ).values_list("closed_by_id", "assigned_at", "closed_at"):
        handled[closer] += 1
        if assigned_at is not None and closed_at is not None:
            handling[closer].append(closed_at - assigned_at)
    first: dict[int, list[dt.timedelta]] = defaultdict(list)
    for agent, created_at, answered_at in Conversation.objects.filter(
        mailbox=mailbox, origin=Origin.INBOUND, first_answer_at__gte=today, assignee_id__in=ids
    ).values_list("assignee_id", "created_at", "first_answer_at"):
        if answered_at is not None:
            first[agent].append(answered_at - created_at)
    return [
        AgentFigures(
            id=m.user_id,
            name=str(m.user),
            presence=presence.get(m.user_id, PresenceStatus.OFFLINE),
            load=held.get(m.user_id, 0),
            capacity=capacity_of(mailbox, m),
            handled_today=handled[m.user_id],
            median_first_response_s=_median_seconds(first[m.user_id]),
            median_handling_s=_median_seconds(handling[m.user_id]),
        )
        for m in sorted(members, key=lambda m: str(m.user).lower())
    ]


def mailbox_figures(mailbox: Mailbox, now: dt.datetime | None = None) -> MailboxFigures:
    now = now or timezone.now()
    queued = Conversation.objects.filter(queue(mailbox.pk)).aggregate(
        n=Count("id"), oldest=Min("waiting_since")
    )
    waiting = Conversation.objects.filter(
        mailbox=mailbox, status="open", waiting_since__isnull=False
    ).aggregate(n=Count("id"), oldest=Min("waiting_since"))
    oldest = (now - waiting["oldest"]).total_seconds() if waiting["oldest"] else None
    level = "ok"
    if oldest is not None and oldest >= mailbox.wait_critical_seconds:
        level = "critical"
    elif oldest is not None and oldest >= mailbox.wait_warning_seconds:
        level = "warning"
    return MailboxFigures(
        id=mailbox.pk,
        name=mailbox.name,
        auto_assign=mailbox.auto_assign,
        queue=queued["n"],
        oldest_waiting_s=round(oldest, 1) if oldest is not None else None,
        waiting=waiting["n"],
        level=level,
        target_percent=mailbox.service_level_percent,
        target_s=mailbox.service_level_seconds,
        service_level_now=service_level(mailbox, now - NOW_WINDOW, now),
        service_level_today=service_level(mailbox, midnight(now), now),
        agents=agent_figures(mailbox, midnight(now)),
    )


def desk_mailboxes() -> list[Mailbox]:
    """The mailboxes agents work: those with members or conversations."""
    worked = MailboxMember.objects.values("mailbox_id")
    return list(Mailbox.objects.filter(Q(pk__in=worked)).order_by("name"))


def campaign_figures(now: dt.datetime | None = None) -> list[CampaignFigures]:
    """The campaigns sending now or that brought replies in the last week."""
    now = now or timezone.now()
    recent = Conversation.objects.filter(
        campaign_id__isnull=False, created_at__gte=now - dt.timedelta(days=7)
    ).values("campaign_id")
    campaigns = Campaign.objects.filter(
        Q(status__in=("running", "paused")) | Q(pk__in=recent)
    ).order_by("-pk")[:MAX_CAMPAIGNS]
    rows = []
    for campaign in campaigns:
        counts = Conversation.objects.filter(campaign_id=campaign.pk).aggregate(
            replies=Count("id"),
            waiting=Count("id", filter=Q(status="open", waiting_since__isnull=False)),
        )
        sent = tallies(campaign.pk).get("sent", 0)
        rows.append(
            CampaignFigures(
                id=campaign.pk,
                name=campaign.name,
                status=campaign.status,
                sent=sent,
                replies=counts["replies"],
                reply_rate=round(100 * counts["replies"] / sent, 2) if sent else None,
                waiting=counts["waiting"],
            )
        )
    return rows


def presence_rows() -> list[tuple[User, str]]:
    """Every active user working a mailbox, with their presence."""
    users = User.objects.filter(
        is_active=True, pk__in=MailboxMember.objects.values("user_id")
    ).order_by("email")
    status = dict(Presence.objects.values_list("user_id", "status"))
    return [(u, status.get(u.pk, PresenceStatus.OFFLINE)) for u in users]

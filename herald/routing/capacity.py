"""Campaigns paced by what agents can answer: a campaign set to "pace by the agents of mailbox M"
sends no faster than the replies it brings can be answered by M's available agents within M's
service level.

The arithmetic (``pace``) is pure. Agents answer about ``Σ capacity / handling time``
conversations per second (Little's law: an agent holding ``c`` conversations at once, each for
``T`` seconds from assignment to close, finishes ``c / T`` per second; an agent without a
capacity counts as one at a time). The queue already waiting must also be cleared within the
target time, which takes ``queue / target`` of that. What is left, divided by the reply rate,
is how many messages per second may go out.

The reply rate is the campaign's observed one blended with a prior (``PRIOR_REPLY_RATE`` as if
over ``PRIOR_SENDS`` messages), so that the first messages go at a sensible pace before any reply
came back, and the observed rate takes over as sends accumulate. Replies come back late: counted
against every message sent, the rate would look tiny while the first replies are still on their
way and the campaign would rush ahead of its agents. So only the messages sent more than
``REPLY_WINDOW_S`` ago (by when most replies have come) count as sends; replies to newer ones
count as soon as they arrive, which errs on the safe side. The handling
time is the mailbox's median over its last ``HANDLING_SAMPLE`` closed conversations of the last
day, or ``PRIOR_HANDLING_S`` while fewer than ``MIN_HANDLED`` were closed.

``observe`` reads those figures from the database; the dialer asks ``pace_of`` (cached a few
seconds per campaign) and sends at the lower of this pace and the campaign's own.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from herald.conversations.models import Conversation, MailboxMember
from herald.routing.actions import capacity_of, queue
from herald.routing.models import Presence, PresenceStatus

PRIOR_REPLY_RATE = 0.05
REPLY_WINDOW_S = 3600
PRIOR_SENDS = 200
PRIOR_HANDLING_S = 300.0
MIN_HANDLED = 5
HANDLING_SAMPLE = 500
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Observed:
    """What the pace is computed from."""

    slots: int  # Σ capacity of the available agents (one each without a capacity)
    agents: int  # available agents
    sent: int  # messages of the campaign sent so far
    recent: int  # of which sent in the last REPLY_WINDOW_S (their replies are still coming)
    replies: int  # conversations it brought
    handling_s: float | None  # median handling time measured, None: too few closed yet
    queue: int  # conversations waiting in the mailbox's queue
    target_s: int  # the mailbox's service-level time


@dataclass(frozen=True)
class Pace:
    per_second: float
    agents: int
    reply_rate: float
    handling_s: float
    queue: int

    @property
    def per_minute(self) -> float:
        return self.per_second * 60

    def explain(self) -> str:
        """Why the campaign sends at this pace, as its page says it."""
        if self.agents == 0:
            return _("0/min: no agent available to answer the replies")
        return ngettext(
            "%(rate)s/min: %(agents)d agent available, reply rate %(reply).1f %%, "
            "handling time %(handling)d s, queue %(queue)d",
            "%(rate)s/min: %(agents)d agents available, reply rate %(reply).1f %%, "
            "handling time %(handling)d s, queue %(queue)d",
            self.agents,
        ) % {
            "rate": f"{self.per_minute:.0f}" if self.per_minute >= 10 else f"{self.per_minute:.1f}",
            "agents": self.agents,
            "reply": 100 * self.reply_rate,
            "handling": round(self.handling_s),
            "queue": self.queue,
        }


def reply_rate(sent: int, replies: int, recent: int = 0) -> float:
    """The observed reply rate (over messages old enough to have had their replies) blended
    with the prior."""
    return (replies + PRIOR_REPLY_RATE * PRIOR_SENDS) / (sent - recent + PRIOR_SENDS)


def pace(observed: Observed) -> Pace:
    """Messages per second that keep the replies within what the agents answer in time."""
    rate = reply_rate(observed.sent, observed.replies, observed.recent)
    handling = observed.handling_s if observed.handling_s else PRIOR_HANDLING_S
    answered = observed.slots / handling  # conversations per second the agents finish
    backlog = observed.queue / max(observed.target_s, 1)
    replies_allowed = max(answered - backlog, 0.0)
    return Pace(
        per_second=replies_allowed / rate if observed.agents else 0.0,
        agents=observed.agents,
        reply_rate=rate,
        handling_s=handling,
        queue=observed.queue,
    )


def observe(campaign_id: int, mailbox_id: int, now: dt.datetime | None = None) -> Observed:
    from herald.campaigns.models import Event, EventKind
    from herald.mailboxes.models import Mailbox
    from herald.tracking.queries import tallies

    now = now or timezone.now()
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    available = MailboxMember.objects.filter(
        mailbox=mailbox,
        user__is_active=True,
        user_id__in=Presence.objects.filter(status=PresenceStatus.AVAILABLE).values("user_id"),
    )
    members = list(available)
    spans = [
        (closed - assigned).total_seconds()
        for assigned, closed in Conversation.objects.filter(
            mailbox=mailbox,
            closed_at__gte=now - dt.timedelta(days=1),
            assigned_at__isnull=False,
        )
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:HANDLING_SAMPLE]
        if closed is not None and assigned is not None and closed > assigned
    ]
    replies = Conversation.objects.filter(campaign_id=campaign_id).aggregate(n=Count("id"))["n"]
    return Observed(
        slots=sum(capacity_of(mailbox, m) or 1 for m in members),
        agents=len(members),
        sent=tallies(campaign_id).get("sent", 0),
        recent=Event.objects.filter(
            campaign_id=campaign_id,
            kind=EventKind.SENT,
            at__gte=now - dt.timedelta(seconds=REPLY_WINDOW_S),
        ).count(),
        replies=replies,
        handling_s=statistics.median(spans) if len(spans) >= MIN_HANDLED else None,
        queue=Conversation.objects.filter(queue(mailbox.pk)).count(),
        target_s=mailbox.service_level_seconds,
    )


_cache: dict[int, tuple[float, Pace]] = {}


def pace_of(campaign_id: int, mailbox_id: int) -> Pace:
    """The campaign's capacity pace now (recomputed at most every ``CACHE_SECONDS``)."""
    hit = _cache.get(campaign_id)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = pace(observe(campaign_id, mailbox_id))
    _cache[campaign_id] = (time.monotonic(), found)
    return found

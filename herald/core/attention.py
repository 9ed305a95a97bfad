"""What needs someone's attention now, for the home page: the user's own waiting conversations,
the queues of their mailboxes, and for managers the campaigns under way or stopped, and what
failed (mail that could not be read, a mailbox that cannot log in, a list refresh, triggered
emails, webhooks). Each item says what is wrong and links to where it is fixed.

A handful of indexed counts: the home page is the first page everyone opens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from herald.accounts.models import Role, User

RECENT = dt.timedelta(days=1)


@dataclass(frozen=True)
class Item:
    level: str  # "critical", "warning" or "info": the order they are shown in
    text: str
    url: str
    action: str  # what the link does ("Open the inbox")


LEVELS = {"critical": 0, "warning": 1, "info": 2}


def for_user(user: User, now: dt.datetime | None = None) -> list[Item]:
    now = now or timezone.now()
    items = _desk(user, now)
    if user.has_role(Role.MANAGER):
        items += _campaigns() + _failures(now)
    if user.has_role(Role.ADMIN):
        items += _webhooks()
    return sorted(items, key=lambda item: LEVELS[item.level])


def _desk(user: User, now: dt.datetime) -> list[Item]:
    from herald.conversations import queries
    from herald.conversations.models import ACTIVE_STATUSES, Conversation

    items: list[Item] = []
    inbox = reverse("conversations:list")
    mine = Conversation.objects.filter(
        assignee=user, status__in=ACTIVE_STATUSES, waiting_since__isnull=False
    ).count()
    if mine:
        items.append(
            Item(
                "warning",
                ngettext(
                    "%(n)d of your conversations waits for your answer.",
                    "%(n)d of your conversations wait for your answer.",
                    mine,
                )
                % {"n": mine},
                inbox + "?view=mine",
                _("Open your conversations"),
            )
        )
    queue = queries.visible(user).filter(
        status__in=ACTIVE_STATUSES, assignee__isnull=True, waiting_since__isnull=False
    )
    waiting = queue.aggregate(n=Min("waiting_since"))["n"]
    count = queue.count() if waiting else 0
    if count:
        minutes = max(0, int((now - waiting).total_seconds() // 60))
        items.append(
            Item(
                "critical" if minutes >= 60 else "warning",
                ngettext(
                    "%(n)d conversation waits for an agent, the oldest for %(minutes)d min.",
                    "%(n)d conversations wait for an agent, the oldest for %(minutes)d min.",
                    count,
                )
                % {"n": count, "minutes": minutes},
                inbox + "?view=unassigned",
                _("Open the queue"),
            )
        )
    return items


def _campaigns() -> list[Item]:
    from herald.campaigns.models import Campaign, CampaignStatus

    items: list[Item] = []
    for campaign in Campaign.objects.filter(
        status__in=[CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED]
    ).order_by("status", "name")[:20]:
        url = reverse("campaigns:detail", args=[campaign.pk])
        if campaign.status == CampaignStatus.PAUSED:
            text = _("Campaign %(name)s is paused") % {"name": campaign.name}
            if campaign.status_reason:
                text += f": {campaign.status_reason}"
            items.append(Item("warning", text, url, _("Open the campaign")))
        elif campaign.status == CampaignStatus.RUNNING:
            text = _("Campaign %(name)s is sending.") % {"name": campaign.name}
            items.append(Item("info", text, url, _("Watch it")))
        else:
            text = _("Campaign %(name)s is scheduled.") % {"name": campaign.name}
            items.append(Item("info", text, url, _("Open the campaign")))
    return items


def _failures(now: dt.datetime) -> list[Item]:
    from herald.contacts.models import RefreshRun, RefreshStatus
    from herald.dispositions.models import Disposition, DispositionState
    from herald.inbound.models import InboundMessage, InboundStatus
    from herald.mailboxes.models import Mailbox

    items: list[Item] = []
    held = InboundMessage.objects.filter(status=InboundStatus.QUARANTINED).count()
    if held:
        items.append(
            Item(
                "critical",
                ngettext(
                    "%(n)d received message could not be processed (quarantine).",
                    "%(n)d received messages could not be processed (quarantine).",
                    held,
                )
                % {"n": held},
                reverse("mailboxes:list"),
                _("See the mailboxes"),
            )
        )
    troubled = Mailbox.objects.filter(
        Q(enabled=True) & (~Q(oauth_error="") | Q(pk__in=_lease_errors()))
    )
    for mailbox in troubled[:10]:
        items.append(
            Item(
                "critical",
                _("Mailbox %(name)s cannot log in or read mail.") % {"name": mailbox.name},
                reverse("mailboxes:edit", args=[mailbox.pk]),
                _("Open the mailbox"),
            )
        )
    for run in (
        RefreshRun.objects.filter(status=RefreshStatus.FAILED, started_at__gte=now - RECENT)
        .select_related("contact_list")
        .order_by("-id")[:5]
    ):
        items.append(
            Item(
                "warning",
                _("The refresh of list %(name)s failed: %(error)s")
                % {"name": run.contact_list.name, "error": run.error[:200]},
                reverse("contacts:list", args=[run.contact_list_id]),
                _("Open the list"),
            )
        )
    failed = Disposition.objects.filter(
        state=DispositionState.FAILED, created_at__gte=now - RECENT
    ).count()
    if failed:
        items.append(
            Item(
                "warning",
                ngettext(
                    "%(n)d email triggered by a call failed today.",
                    "%(n)d emails triggered by calls failed today.",
                    failed,
                )
                % {"n": failed},
                reverse("dispositions:page"),
                _("See the calls"),
            )
        )
    return items


def _lease_errors() -> list[int]:
    """The mailboxes whose last IMAP connection failed."""
    from herald.inbound.models import IngestLease

    return list(IngestLease.objects.exclude(error="").values_list("mailbox_id", flat=True)[:50])


def _webhooks() -> list[Item]:
    from herald.webhooks.models import Endpoint

    items: list[Item] = []
    for endpoint in Endpoint.objects.filter(
        Q(active=False) & ~Q(disabled_reason="") | Q(active=True, failing_since__isnull=False)
    )[:5]:
        text = (
            _("Webhook %(url)s was turned off: %(why)s")
            % {"url": endpoint.url, "why": endpoint.disabled_reason}
            if not endpoint.active
            else _("Webhook %(url)s is failing.") % {"url": endpoint.url}
        )
        items.append(
            Item("warning", text, reverse("webhooks:detail", args=[endpoint.pk]), _("Open it"))
        )
    return items

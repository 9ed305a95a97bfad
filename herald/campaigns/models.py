"""Campaigns, their deliveries (one per recipient address and run) and the event log.

A ``Delivery`` row is the current state of one message; every change of it is also an append-only
``Event`` (sent, deferred, failed, skipped, ...), which is what statistics are derived from. The
dialer finds work through one partial index: pending deliveries (queued, deferred, or in flight)
by campaign and ``due_at``. In flight means claimed by a worker until ``due_at``: a worker that
dies leaves its claim to expire, and the delivery is then due again (see ``queries.claim``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SCHEDULED = "scheduled", _("scheduled")
    RUNNING = "running", _("running")
    PAUSED = "paused", _("paused")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class AddressChoice(models.TextChoices):
    FIRST = "first", _("EMAIL1 only")
    FIRST_VALID = "first_valid", _("the first valid address")
    ALL = "all", _("every address")


class StartMode(models.TextChoices):
    MANUAL = "manual", _("when started")
    AT = "at", _("at a date and time")
    RECURRING = "recurring", _("on a recurring schedule")


class RateUnit(models.TextChoices):
    SECOND = "second", _("per second")
    MINUTE = "minute", _("per minute")
    HOUR = "hour", _("per hour")


class WindowZone(models.TextChoices):
    ACCOUNT = "account", _("the account's time zone")
    CONTACT = "contact", _("each contact's own time zone")


# The outcomes a campaign can map to a list-member status label ("status mapping").
STATUS_MAP_OUTCOMES = ("sent", "failed", "bounced", "unsubscribed", "opened", "clicked", "replied")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", verbose_name=_("mailbox"), on_delete=models.PROTECT, related_name="+"
    )
    template = models.ForeignKey(
        "messaging.Template",
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The template version sent: the template's current one, pinned when a run launches.
    version = models.ForeignKey(
        "messaging.TemplateVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    lists = models.ManyToManyField(
        "contacts.ContactList", verbose_name=_("lists"), related_name="campaigns"
    )
    addresses = models.CharField(
        _("addresses of a contact"),
        max_length=12,
        choices=AddressChoice.choices,
        default=AddressChoice.FIRST_VALID,
    )
    subject = models.CharField(
        _("subject override"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the template's subject."),
    )
    bcc = models.CharField(
        _("extra BCC"),
        max_length=1000,
        blank=True,
        help_text=_("Addresses copied on every message, besides the mailbox's default BCC."),
    )
    # {"sent": "mail sent", "bounced": "bad address", ...}: outcome -> list-member status label.
    status_map = models.JSONField(_("status mapping"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    start_mode = models.CharField(
        _("start"), max_length=10, choices=StartMode.choices, default=StartMode.MANUAL
    )
    start_at = models.DateTimeField(_("start at"), null=True, blank=True)
    # herald.campaigns.windows: Recurrence / Schedule as JSON.
    recurrence = models.JSONField(_("recurrence"), null=True, blank=True)
    windows = models.JSONField(_("send windows"), default=list, blank=True)
    window_zone = models.CharField(
        _("windows in"), max_length=8, choices=WindowZone.choices, default=WindowZone.ACCOUNT
    )

    # Pacing (herald.dialer.pacing.campaign_limits); nothing set: as fast as the mailbox allows.
    rate_count = models.PositiveIntegerField(_("messages"), null=True, blank=True)
    rate_unit = models.CharField(
        _("per"), max_length=6, choices=RateUnit.choices, default=RateUnit.SECOND
    )
    wait_seconds = models.FloatField(_("or wait between two sends (s)"), null=True, blank=True)
    daily_cap = models.PositiveIntegerField(_("daily cap"), null=True, blank=True)
    warmup_per_hour = models.PositiveIntegerField(
        _("warm-up: start at N per hour"), null=True, blank=True
    )
    warmup_growth_percent = models.FloatField(_("warm-up: grow by % per day"), default=0)
    # herald.routing.capacity: no faster than the replies can be answered in time.
    pace_by_agents_of = models.ForeignKey(
        "mailboxes.Mailbox",
        verbose_name=_("pace by the agents of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Sends no faster than the replies it brings can be answered by this mailbox's "
            "available agents within its service level (and never faster than the pace above)."
        ),
    )

    # Auto-pause: more than failure_percent % failed among the last failure_window attempts.
    failure_percent = models.PositiveSmallIntegerField(
        _("auto-pause when failures exceed (%)"), default=20
    )
    failure_window = models.PositiveIntegerField(_("among the last N attempts"), default=200)
    # Retries of temporary failures: backoff steps, then give up after max_retry_hours.
    max_retry_hours = models.PositiveIntegerField(
        _("retry temporary failures for (hours)"), default=72
    )

    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    status_reason = models.CharField(_("why"), max_length=500, blank=True)
    run = models.PositiveIntegerField(
        default=0
    )  # launches so far (a recurring campaign relaunches)
    next_run_at = models.DateTimeField(null=True, blank=True)  # scheduled: when it launches
    launched_at = models.DateTimeField(null=True, blank=True)
    warmup_since = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Tracking (herald.tracking): each can be turned off for privacy; the recipient pages.
    track_opens = models.BooleanField(_("track opens"), default=True)
    track_clicks = models.BooleanField(_("track clicks"), default=True)
    optout_template = models.ForeignKey(
        "messaging.Template",
        verbose_name=_("opt-out confirmation email"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Sent to whoever unsubscribes, through the campaign's mailbox. Empty: none."),
    )
    thank_you_text = models.TextField(
        _("thank-you text after a rating"),
        blank=True,
        help_text=_("Shown to a recipient who rated. Empty: a short default thank-you."),
    )

    class Meta:
        verbose_name = _("campaign")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def pacing_key(self) -> str:
        return f"campaign:{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("to send")
    SENDING = "sending", _("sending")  # claimed by a worker until due_at
    DEFERRED = "deferred", _("deferred")  # a temporary failure: retried at due_at
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")  # a permanent failure, or retries given up
    SKIPPED = "skipped", _("skipped")  # never sent: suppressed, invalid, cancelled
    BOUNCED = "bounced", _("bounced")  # sent, then a bounce came back (inbound)


PENDING_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.DEFERRED)
FINAL_STATES = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.SKIPPED,
    DeliveryState.BOUNCED,
)


class Delivery(models.Model):
    """One message of one campaign run to one address.

    Foreign keys carry no database constraint and no index of their own (like ListMember): a
    launch inserts a million rows in one statement, and every index or constraint is paid per
    row. The rows are written and deleted only with their campaign.
    """

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    run = models.PositiveIntegerField(default=1)
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    email = models.CharField(max_length=320)
    # The contact's own time zone when the campaign's windows follow it ("" = the account's).
    tz = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(
        max_length=8, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    reason = models.CharField(max_length=300, blank=True, default="")  # why skipped / failed
    due_at = models.DateTimeField(null=True, blank=True)  # pending: when it may (next) go
    attempts = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    code = models.PositiveSmallIntegerField(null=True, blank=True)  # the server's last reply code
    reply = models.CharField(max_length=1000, blank=True, default="")  # ... and its words

    class Meta:
        indexes = [
            # The dialer's claim: due pending deliveries of a running campaign, oldest first.
            models.Index(
                fields=["campaign", "due_at"],
                name="delivery_pending",
                condition=models.Q(state__in=["queued", "sending", "deferred"]),
            ),
            # Progress by state; and (campaign, email) to find a delivery when mail comes back.
            models.Index(fields=["campaign", "state"], name="delivery_state"),
            # The desk's customer panel: the campaigns a contact received.
            models.Index(fields=["contact"], name="delivery_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class EventKind(models.TextChoices):
    LAUNCHED = "launched", _("launched")
    SKIPPED = "skipped", _("skipped")
    SENT = "sent", _("sent")
    DEFERRED = "deferred", _("deferred")
    FAILED = "failed", _("failed")
    BOUNCED = "bounced", _("bounced")
    PAUSED = "paused", _("paused")
    RESUMED = "resumed", _("resumed")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")
    # What came back (herald.inbound).
    SOFT_BOUNCED = "soft_bounced", _("soft bounce")
    DELAYED = "delayed", _("delivery delayed")  # a "still trying" warning: not a failure
    COMPLAINED = "complained", _("complaint")
    AUTOREPLIED = "autoreplied", _("automatic reply")
    UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
    REPLIED = "replied", _("replied")
    # Recorded by the recipient-facing endpoints (herald.tracking).
    OPENED = "opened", _("opened")
    CLICKED = "clicked", _("clicked")
    RATED = "rated", _("rated")


class Event(models.Model):
    """An append-only fact about a delivery (or, without one, about its campaign)."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    delivery = models.ForeignKey(
        Delivery,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    code = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=1000, blank=True, default="")  # the server's reply, why
    data = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "kind", "at"], name="event_campaign_kind"),
            models.Index(fields=["delivery"], name="event_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"

"""Disposition codes a voice platform (or the desk) reports after a call, and the emails they
trigger.

A ``DispositionRule`` maps a code (``CALLBACK_CONFIRMED``) to a template and a mailbox, with a
delay and send windows. Each reported call is one ``Disposition`` row, unique by its call id, so
a platform that posts the same call twice triggers one email. The row is also the email's
outbox entry: its state goes waiting -> sending -> sent (or deferred, failed, skipped) as the
worker sends it (``herald.dispositions.sending``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_DELAY_MINUTES = 30 * 24 * 60  # a confirmation sent a month after the call is not one


class DispositionRule(models.Model):
    code = models.CharField(_("disposition code"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    template = models.ForeignKey(
        "messaging.Template", verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", verbose_name=_("mailbox"), on_delete=models.PROTECT, related_name="+"
    )
    delay_minutes = models.PositiveIntegerField(_("delay (minutes)"), default=0)
    # herald.campaigns.windows JSON, in the account's time zone; empty: any time.
    windows = models.JSONField(_("send windows"), default=list, blank=True)
    active = models.BooleanField(_("on"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("disposition rule")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class DispositionState(models.TextChoices):
    WAITING = "waiting", _("to send")  # at due_at: after the delay, in a window
    SENDING = "sending", _("sending")  # a worker has it until lease_until
    DEFERRED = "deferred", _("deferred")  # a temporary failure: retried at due_at
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("not sent")  # suppressed, no address, rule turned off
    NO_RULE = "no_rule", _("no email for this code")


PENDING_STATES = (DispositionState.WAITING, DispositionState.SENDING, DispositionState.DEFERRED)


class DispositionSource(models.TextChoices):
    API = "api", _("voice platform (API)")
    DESK = "desk", _("desk wrap-up")


class Disposition(models.Model):
    call_id = models.CharField(_("call id"), max_length=200, unique=True)
    code = models.CharField(_("disposition code"), max_length=64)
    rule = models.ForeignKey(
        DispositionRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="dispositions"
    )
    email = models.CharField(_("address"), max_length=320, blank=True)
    agent = models.CharField(_("agent"), max_length=200, blank=True)
    called_at = models.DateTimeField(_("call time"), default=timezone.now)
    variables = models.JSONField(default=dict, blank=True)  # extra template variables
    source = models.CharField(max_length=8, choices=DispositionSource.choices)
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(max_length=8, choices=DispositionState.choices)
    reason = models.CharField(max_length=1000, blank=True)  # why skipped / failed / deferred
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)  # retries stop a day after
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField(blank=True, default=b"")  # exactly as sent, for every retry
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["state", "due_at"],
                condition=models.Q(state__in=["waiting", "sending", "deferred"]),
                name="disposition_outbox",
            ),
            models.Index(fields=["code", "created_at"], name="disposition_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.call_id})"

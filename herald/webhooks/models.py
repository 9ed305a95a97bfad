"""Webhook endpoints, the events captured for them, and each message's delivery log.

Events are captured by database triggers (migration 0001) on the tables that record what
happens: campaign events (``campaigns_event``: a delivery sent, deferred, bounced, opened,
clicked, a campaign launched, paused, completed), conversation events and finished imports.
A trigger writes one ``Captured`` row per event, in the transaction that records it, and only
while some endpoint is active: every writer of events is covered without knowing of webhooks,
and nothing is written when nobody listens. The worker turns captured rows into one ``Message``
per subscribed endpoint (``dispatch``), then delivers them.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from herald.mailboxes.secrets import decrypt, encrypt


class Endpoint(models.Model):
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # The event types sent ("delivery.opened", "conversation.closed", ...); empty means all.
    event_types = models.JSONField(default=list, blank=True)
    # The signing secret ("whsec_" + base64 of 32 random bytes), encrypted at rest as mailbox
    # passwords are (herald.mailboxes.secrets); read and set through ``secret``.
    secret_encrypted = models.TextField(editable=False)
    # After a rotation the previous secret signs too, until then (receivers switch over).
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(_("on"), default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)  # first failure since a success
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted, what=f"the signing secret of webhook {self.url}")

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt(value)

    @property
    def previous_secret(self) -> str:
        return decrypt(self.previous_secret_encrypted, what=f"the previous secret of {self.url}")

    @previous_secret.setter
    def previous_secret(self, value: str) -> None:
        self.previous_secret_encrypted = encrypt(value)

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Captured(models.Model):
    """An event recorded and not yet fanned out (written by the triggers only)."""

    # e: campaign event, c: conversation event, i: import, s: suppression, r: list refresh,
    # d: the email of a call's disposition
    source = models.CharField(max_length=1)
    row_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.source}{self.row_id}"


class MessageState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")  # given up after the retry period; can be replayed


class Message(models.Model):
    """One event for one endpoint: its payload, and how its delivery went."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=40, unique=True)  # the webhook-id header
    seq = models.BigIntegerField()  # the order events were recorded in (per object order)
    event_type = models.CharField(max_length=40)
    object_key = models.CharField(max_length=60)  # "delivery:12": sent in order per object
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=10, choices=MessageState.choices, default=MessageState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=500, blank=True)  # the answer's first bytes
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "object_key", "seq"], name="webhook_object_order"),
            models.Index(fields=["endpoint", "-id"], name="webhook_endpoint_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"


class Feed(models.Model):
    """The event feed's switch (one row): while on, every event is kept for ``keep_days`` for
    ``GET /api/v1/events``, whether or not an endpoint listens."""

    enabled = models.BooleanField(default=False)
    keep_days = models.PositiveIntegerField(default=30)

    class Meta:
        verbose_name = _("event feed")

    def __str__(self) -> str:
        return "on" if self.enabled else "off"

    @classmethod
    def load(cls) -> Feed:
        feed, _ = cls.objects.get_or_create(pk=1)
        return feed


class FeedEvent(models.Model):
    """One event in the feed. Appended by one fan-out at a time (``dispatch.fan_out`` holds a
    lock), so ids become visible in order: a reader paging by id never skips one."""

    event_type = models.CharField(max_length=40)
    object_key = models.CharField(max_length=60)
    payload = models.JSONField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["added_at"], name="feed_event_age")]

    def __str__(self) -> str:
        return f"{self.pk} {self.event_type}"

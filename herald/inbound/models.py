"""What ingestion keeps: every fetched message (raw bytes first, then what processing made of it),
the per-folder cursor, the per-mailbox lease, soft-bounce counts and auto-acknowledgement times.

A message is stored raw in the same transaction that advances its folder's cursor, so a worker
killed at any point neither loses nor fetches twice what it had committed; processing is a second
step on stored rows, so a message that cannot be processed is quarantined with its error and the
rest of the mailbox goes on.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("received")  # stored, not processed yet
    PROCESSED = "processed", _("processed")
    QUARANTINED = "quarantined", _("quarantined")  # processing failed: see error


class InboundMessage(models.Model):
    """One message fetched from a mailbox's IMAP folder, as it came (``raw``)."""

    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    folder = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    # The de-duplication key: the Message-ID, or "sha256:<hex>" of the bytes when there is none.
    message_key = models.CharField(max_length=500)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)  # on the server (raw may hold headers only)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    kind = models.CharField(max_length=12, blank=True)  # herald.inbound.classify kinds
    reason = models.CharField(max_length=300, blank=True)  # the classification's reason
    error = models.TextField(blank=True)  # why it is quarantined
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    delivery = models.ForeignKey(
        "campaigns.Delivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    moved = models.BooleanField(default=False)  # moved to the mailbox's "processed" folder

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_key"], name="inbound_message_once")
        ]
        indexes = [
            # The processing step's work list and the quarantine page.
            models.Index(fields=["status", "mailbox"], name="inbound_message_status"),
        ]

    def __str__(self) -> str:
        return self.subject or self.message_key


class FolderCursor(models.Model):
    """How far a mailbox's folder has been read: every UID up to ``last_uid`` is stored,
    as long as the folder's UIDVALIDITY is still ``uidvalidity`` (RFC 3501 2.3.1.1)."""

    mailbox = models.ForeignKey("mailboxes.Mailbox", on_delete=models.CASCADE, related_name="+")
    folder = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField(null=True)
    last_uid = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "folder"], name="folder_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.folder} {self.uidvalidity}:{self.last_uid}"


class IngestLease(models.Model):
    """Which worker reads a mailbox now: one at a time, taken over when its lease ran out."""

    mailbox = models.OneToOneField(
        "mailboxes.Mailbox", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    runner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)  # the last successful look
    idle = models.BooleanField(default=False)  # the server offers IDLE (else: polling)
    error = models.CharField(max_length=1000, blank=True)  # the last connection failure

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.runner or '-'}"


class SoftBounce(models.Model):
    """One soft bounce of an address: enough of them within days suppress it (settings)."""

    email_key = models.CharField(max_length=320)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["email_key", "at"], name="soft_bounce_address")]

    def __str__(self) -> str:
        return self.email_key


class AutoReplySent(models.Model):
    """When an address last got an automatic answer (loop guard: once per N hours)."""

    email_key = models.CharField(max_length=320, unique=True)
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.email_key

"""Conversations with contacts: one open conversation per contact and mailbox, holding the
messages both ways (the campaign message it answers, replies, automatic acknowledgements).

Inbound HTML is stored as it came and sanitized each time it is shown (``herald.conversations.
display``), so that a better sanitizer applies to old messages too. Attachments are kept in the
database: workers on other machines must be able to store them where the web can read them.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class Conversation(models.Model):
    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", verbose_name=_("mailbox"), on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=ConversationStatus.choices,
        default=ConversationStatus.OPEN,
    )
    # The campaign message that started it, when it began as a reply to one.
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    delivery = models.ForeignKey(
        "campaigns.Delivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "mailbox"],
                condition=models.Q(status="open"),
                name="conversation_one_open",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conversation_recent"),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"


class Direction(models.TextChoices):
    IN = "in", _("received")
    OUT = "out", _("sent")


class MessageKind(models.TextChoices):
    REPLY = "reply", _("reply to a campaign")
    NEW = "new", _("new message")
    ACK = "ack", _("automatic acknowledgement")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=8, choices=MessageKind.choices)
    inbound = models.ForeignKey(
        "inbound.InboundMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    delivery = models.ForeignKey(
        "campaigns.Delivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    message_id = models.CharField(max_length=500, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    to_address = models.CharField(max_length=1000, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True)  # the new text, quoted history removed
    body = models.TextField(blank=True)  # the whole text body, history included
    html = models.TextField(blank=True)  # as received: sanitize before showing (display.py)
    reason = models.CharField(max_length=300, blank=True)  # the classification's reason
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["conversation", "at"], name="message_thread")]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content_id = models.CharField(max_length=255, blank=True)  # for cid: images in the HTML
    size = models.PositiveIntegerField()
    # Empty when the attachment was over the size limit (kept listed, its data dropped).
    data = models.BinaryField(blank=True)
    omitted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.filename

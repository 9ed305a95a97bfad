"""The agent desk's state: conversations with contacts, their messages both ways (the campaign
message a conversation answers, customers' mail, agents' answers, forwards and internal notes,
automatic acknowledgements), who works which mailbox, wrap-up reasons, and every change of a
conversation as an append-only ``ConversationEvent``.

A contact has at most one *active* conversation (open, pending or snoozed) per mailbox; a
customer message arriving after it was closed starts a new one whose ``previous`` is the old.
Outbound desk messages (agents' replies, forwards, agent-started mail) are queued here and sent by
the worker (``herald.conversations.sending``); ``raw`` keeps each one exactly as it went out.

Inbound HTML is stored as it came and sanitized each time it is shown (``herald.conversations.
display``), so that a better sanitizer applies to old messages too. Attachments are kept in the
database: workers on other machines must be able to store them where the web can read them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("open")
    PENDING = "pending", _("pending")  # waiting for the customer
    SNOOZED = "snoozed", _("snoozed")  # open again at snoozed_until, or when the customer writes
    CLOSED = "closed", _("closed")


# The statuses of a conversation still being worked: at most one per contact and mailbox.
ACTIVE_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.SNOOZED)


class Origin(models.TextChoices):
    INBOUND = "inbound", _("customer")  # began with mail that came in
    OUTBOUND = "outbound", _("agent")  # an agent's "New email"


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
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.INBOUND)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The conversation this one follows: the customer wrote again after it was closed.
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    # Since when the customer waits for an answer (their first message not answered yet);
    # None once an agent answered. "Oldest waiting first" sorts on it.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)  # unread markers compare it
    assigned_at = models.DateTimeField(null=True, blank=True)  # when the assignee got it
    first_answer_at = models.DateTimeField(null=True, blank=True)  # the service level's measure
    # "Edit CC/BCC": what every agent reply is copied to. Updated from each received message's
    # Cc (received_cc keeps the last one as it came), edited by agents, never taken from a
    # received message at the moment of replying.
    cc = models.CharField(_("CC"), max_length=2000, blank=True)
    bcc = models.CharField(_("BCC"), max_length=2000, blank=True)
    received_cc = models.CharField(max_length=2000, blank=True)
    # Someone has the composer open: shown to the others ("Ann is answering").
    answering = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answering_at = models.DateTimeField(null=True, blank=True)
    wrapup_reason = models.ForeignKey(
        "WrapUpReason",
        verbose_name=_("wrap-up reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    wrapup_note = models.CharField(_("wrap-up note"), max_length=1000, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Words of the subject, the customer and every message, for the inbox search (search.py).
    search_text = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "mailbox"],
                condition=models.Q(status__in=["open", "pending", "snoozed"]),
                name="conversation_one_active",
            )
        ]
        # The inbox views: each is "one mailbox (or all), one status (and assignee), newest
        # activity or oldest waiting first, 50 rows", served by an index ending in that order.
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conversation_recent"),
            models.Index(
                fields=["mailbox", "status", "-last_message_at"], name="conversation_mailbox"
            ),
            models.Index(
                fields=["assignee", "status", "-last_message_at"], name="conversation_assignee"
            ),
            models.Index(fields=["status", "waiting_since"], name="conversation_waiting"),
            models.Index(fields=["status", "snoozed_until"], name="conversation_snoozed"),
            models.Index(fields=["contact", "mailbox"], name="conversation_contact"),
            # A search with an end date starts below the last conversation created by then.
            models.Index(fields=["created_at"], name="conversation_created"),
            # Routing's queue of a mailbox: waiting, unassigned, oldest first (herald.routing).
            models.Index(
                fields=["mailbox", "waiting_since"],
                condition=models.Q(
                    status="open", assignee__isnull=True, waiting_since__isnull=False
                ),
                name="conversation_queue",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"


class Direction(models.TextChoices):
    IN = "in", _("received")
    OUT = "out", _("sent")
    NOTE = "note", _("internal")  # seen by agents only, never sent


class MessageKind(models.TextChoices):
    REPLY = "reply", _("reply to a campaign")
    NEW = "new", _("new message")
    ACK = "ack", _("automatic acknowledgement")
    AGENT = "agent", _("agent's answer")
    FORWARD = "forward", _("forward")
    NOTE = "note", _("internal note")


class SendState(models.TextChoices):
    """Where an outbound desk message stands; empty for received mail and notes."""

    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    DEFERRED = "deferred", _("deferred")  # a temporary failure (4xx): retried with backoff
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=4, choices=Direction.choices)
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
    # Outbound desk messages: who wrote it, its copies, and how sending goes.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cc = models.CharField(max_length=2000, blank=True)
    bcc = models.CharField(max_length=2000, blank=True)
    references = models.TextField(blank=True)
    send_state = models.CharField(max_length=8, choices=SendState.choices, blank=True)
    send_error = models.CharField(max_length=1000, blank=True)  # the server's words
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    raw = models.BinaryField(blank=True, default=b"")  # exactly as sent (desk and automatic)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["conversation", "at"], name="message_thread"),
            # The sender's work list: queued and deferred messages by when they are due.
            models.Index(
                fields=["send_state", "due_at"],
                condition=models.Q(send_state__in=["queued", "deferred", "sending"]),
                name="message_outbox",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"

    @property
    def has_quoted_history(self) -> bool:
        """Whether the whole body says more than the new text (quoted history, a signature)."""
        return bool(self.body.strip()) and self.body.strip() != self.text.strip()


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


class ConversationEventKind(models.TextChoices):
    CREATED = "created", _("started")
    RECEIVED = "received", _("message received")
    REOPENED = "reopened", _("reopened")
    TAKEN = "taken", _("taken")
    ASSIGNED = "assigned", _("assigned")
    UNASSIGNED = "unassigned", _("unassigned")
    REPLIED = "replied", _("answered")
    FORWARDED = "forwarded", _("forwarded")
    NOTED = "noted", _("note added")
    SENT = "sent", _("message sent")
    DEFERRED = "deferred", _("sending deferred")
    FAILED = "failed", _("sending failed")
    PENDING = "pending", _("set pending")
    SNOOZED = "snoozed", _("snoozed")
    WOKE = "woke", _("snooze ended")
    CLOSED = "closed", _("closed")
    CC_CHANGED = "cc", _("CC/BCC changed")


class ConversationEvent(models.Model):
    """One change of a conversation, append-only: who did what, when (principle 1)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=ConversationEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=1000, blank=True)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["conversation", "at"], name="conversation_event_thread"),
            models.Index(fields=["kind", "at"], name="conversation_event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class MailboxMember(models.Model):
    """An agent who works a mailbox's conversations."""

    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    # Open agent-started conversations at once; empty: the mailbox's setting.
    max_outbound = models.PositiveIntegerField(
        _("open outbound conversations at most"), null=True, blank=True
    )
    # Open customer conversations held at once; empty: the mailbox's setting (herald.routing).
    capacity = models.PositiveIntegerField(_("open conversations at most"), null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)  # routing's turn
    rest_until = models.DateTimeField(null=True, blank=True)  # the pause after closing one
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "user"], name="mailbox_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.mailbox}"


class WrapUpReason(models.Model):
    """A reason an agent gives when closing a conversation; kept per mailbox by managers."""

    mailbox = models.ForeignKey(
        "mailboxes.Mailbox", on_delete=models.CASCADE, related_name="wrapup_reasons"
    )
    name = models.CharField(_("reason"), max_length=100)
    active = models.BooleanField(_("offered"), default=True)
    # Closing with this reason reports this disposition code (herald.dispositions): the email
    # its rule maps, if any, goes to the customer. Empty: none.
    disposition_code = models.CharField(_("disposition code"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("wrap-up reason")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "name"], name="wrapup_reason_once")
        ]

    def __str__(self) -> str:
        return self.name


class ConversationRead(models.Model):
    """When a user last looked at a conversation: it is unread for them when the customer
    wrote since."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="conversation_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.conversation_id}"


class SearchTerm(models.Model):
    """One word found in some conversation's ``search_text``: what a search word expands to
    (``search.expansion``)."""

    term = models.CharField(max_length=64, primary_key=True)

    def __str__(self) -> str:
        return self.term

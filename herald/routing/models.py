"""Routing's state: each agent's presence (available, away, offline) and its history.

A mailbox's routing settings (auto-assignment, capacity, grace and rest times, service level)
live on ``Mailbox``; an agent's own capacity and their turn on ``MailboxMember``; when a
conversation was assigned and first answered on ``Conversation``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PresenceStatus(models.TextChoices):
    AVAILABLE = "available", _("available")
    AWAY = "away", _("away")
    OFFLINE = "offline", _("offline")


class Presence(models.Model):
    """An agent's presence now. Only an available agent is offered conversations."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        _("presence"), max_length=9, choices=PresenceStatus.choices, default=PresenceStatus.OFFLINE
    )
    since = models.DateTimeField(default=timezone.now)
    # The agent's last request: idle longer than the account's setting, they go offline.
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status}"


class PresenceChange(models.Model):
    """One change of an agent's presence, append-only: who set it (the agent, a manager, or
    "idle") and when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=9, choices=PresenceStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.CharField(max_length=200)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="presence_change_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status} at {self.at:%H:%M:%S}"

"""The dialer's shared state: one ``PacingState`` row per pacing key (``"campaign:12"``,
``"mailbox:3"``), the slot history every worker reserves from (see ``pacing`` and
``queries.reserve_slots``). Deliveries, campaigns and their events live in the campaigns app."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PacingState(models.Model):
    # The key names what is paced: "campaign:<id>" for a campaign's own rate, "mailbox:<id>" for
    # the provider limits every campaign on that mailbox shares.
    key = models.CharField(max_length=100, unique=True)
    # pacing.PacerState.to_json(): [[time_us, sends], ...], oldest first, a few KB at most.
    history = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

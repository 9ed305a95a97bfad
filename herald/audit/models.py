"""AuditEvent: one row per change of configuration, written in the transaction of the change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    # When ``record`` ran, just before the INSERT: ids follow time, which the history's date
    # filter relies on (``herald.audit.queries``). Events are never backdated.
    at = models.DateTimeField(_("when"), default=timezone.now)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the history still says who it was after a user or token is deleted.
    actor_label = models.CharField(_("who"), max_length=200)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    # {"field": [before, after], ...}; secrets are recorded as changed, never with their values.
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        # The history page always sorts newest first (by id, which follows time) and filters by
        # at most a few of these columns; each index leads with the filter and ends with id so
        # that "WHERE filter ORDER BY id DESC LIMIT 50" is an index range scan, not a sort.
        indexes = [
            models.Index(fields=["object_type", "id"], name="audit_type_idx"),
            models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx"),
            models.Index(fields=["actor_user", "id"], name="audit_actor_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
            models.Index(fields=["action", "id"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"


class AuditWord(models.Model):
    """One word of one event's who/action/object text: the history's search index.

    A search for a word walks the (word, event) index backwards from the newest event and stops
    after one page, whatever the number of events; see ``herald.audit.queries``.
    """

    word = models.CharField(max_length=64)
    # No foreign-key index of its own: the (word, event) index serves every read, and events are
    # never deleted one by one.
    event = models.ForeignKey(
        AuditEvent, on_delete=models.CASCADE, related_name="words", db_index=False
    )

    class Meta:
        indexes = [models.Index(fields=["word", "event"], name="audit_word_idx")]

    def __str__(self) -> str:
        return self.word

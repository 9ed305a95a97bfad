"""What recipients did with campaign messages, kept for fast statistics.

The truth is the append-only event log (``herald.campaigns.models.Event``: opened, clicked,
unsubscribed, rated besides the dialer's sent, deferred, ...). Two tables make it cheap to read:

- ``Tally``: per campaign, per hour, per name (and shard), how many events. Database triggers
  on the event table (migration 0001) keep it, in the transaction that inserts the events,
  whoever inserts them (the dialer, a launch, the tracking endpoints, inbound bounces; the
  tracking writer adds its batches up itself, in the same transaction): a count is the event
  kind (``sent``, ``opened``) and, for each word the event lists in ``data["tally"]``, the kind
  followed by it (``opened:human``, ``opened:unique``, ``clicked:link:3``). So a statistics page
  sums a few hundred rows, never scans millions of events, and can never disagree with them.
- ``Engagement``: one row per delivery whose message was opened, clicked, rated or unsubscribed
  from: first and last times and counts, for "who opened / who clicked" and for telling a
  recipient's first open (a unique reader) from the next ones without reading the event log.
"""

from __future__ import annotations

from django.db import models


class Tally(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique index starts with it
        db_constraint=False,
    )
    hour = models.DateTimeField()  # the hour (UTC) the events happened in
    name = models.CharField(max_length=64)
    n = models.BigIntegerField(default=0)
    # Concurrent writers add to different rows of the same count (PostgreSQL: the connection's
    # backend pid modulo 16), so that none waits for another's commit; readers sum the shards.
    shard = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "hour", "name", "shard"], name="tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.hour:%Y-%m-%d %H}h: {self.n}"


class Engagement(models.Model):
    """What the recipient of one delivery did (machine opens and clicks counted apart)."""

    delivery = models.OneToOneField(
        "campaigns.Delivery",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the indexes below start with it
        db_constraint=False,
    )
    opens = models.PositiveIntegerField(default=0)  # by people
    machine_opens = models.PositiveIntegerField(default=0)
    first_open_at = models.DateTimeField(null=True, blank=True)  # anyone's, machines' too
    read_at = models.DateTimeField(null=True, blank=True)  # the first open by a person
    last_open_at = models.DateTimeField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0)  # by people
    machine_clicks = models.PositiveIntegerField(default=0)
    first_click_at = models.DateTimeField(null=True, blank=True)  # anyone's
    clicked_at = models.DateTimeField(null=True, blank=True)  # the first click by a person
    last_click_at = models.DateTimeField(null=True, blank=True)
    last_link = models.IntegerField(null=True, blank=True)  # the link of the last click
    links = models.JSONField(default=list, blank=True)  # link numbers a person clicked
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # the latest, by a person
    rated_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "first_open_at"], name="engagement_opened"),
            models.Index(fields=["campaign", "first_click_at"], name="engagement_clicked"),
            models.Index(fields=["campaign", "rating"], name="engagement_rating"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id}"


class JournalCursor(models.Model):
    """How far a segment of the tracking journal (``herald.tracking.journal``) is recorded:
    moved in the transaction that records its hits, so each is recorded exactly once."""

    segment = models.CharField(max_length=255, primary_key=True)  # the file's name
    offset = models.BigIntegerField(default=0)  # bytes recorded from its start
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.segment} @ {self.offset}"

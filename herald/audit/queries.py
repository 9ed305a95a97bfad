"""The history page's query, shaped for a million events and more.

Filters map onto the indexes of ``AuditEvent`` and results are paged by id ("older than id N")
rather than by OFFSET and COUNT, so the 1,000th page costs what the first does: an index range scan
that stops after one page of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from herald.audit.models import AuditEvent

PAGE_SIZE = 50


@dataclass(frozen=True)
class HistoryFilter:
    search: str = ""
    object_type: str = ""
    object_id: str = ""
    user_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive: the whole day


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def history(
    flt: HistoryFilter, before_id: int | None = None
) -> tuple[list[AuditEvent], int | None]:
    """One page of events, newest first, and the id to pass as ``before_id`` for the next page."""
    events: QuerySet[AuditEvent] = AuditEvent.objects.all()
    if flt.object_type:
        events = events.filter(object_type=flt.object_type)
    if flt.object_id:
        events = events.filter(object_id=flt.object_id)
    if flt.user_id is not None:
        events = events.filter(actor_user_id=flt.user_id)
    if flt.since:
        events = events.filter(at__gte=_day_start(flt.since))
    if flt.until:
        events = events.filter(at__lt=_day_start(flt.until + timedelta(days=1)))
    for word in flt.search.lower().split():
        events = events.filter(search_text__contains=word)
    if before_id is not None:
        events = events.filter(id__lt=before_id)
    rows = list(events.order_by("-id")[: PAGE_SIZE + 1])
    next_before = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_before


def object_types() -> list[str]:
    return list(AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct())

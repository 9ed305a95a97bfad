"""The history page's query, shaped for a million events and more.

Every page is "the newest events matching the filter, older than id N, 50 at most", and each
filter is served by an index whose last column is the event id, so the database walks one index
backwards from N and stops after 51 rows: the 1,000th page costs what the first does, and no
query ever counts or sorts the whole table.

- no filter: the primary key, walked from N down;
- a date range: turned into an id range first (two lookups in the ``at`` index), then as above.
  Ids follow time — ``at`` is when ``record`` ran, just before the INSERT that took the id — so
  the events of a range lie between the first event a day before it and the first event a day
  after it; the exact ``at`` condition still applies inside. Without the id range PostgreSQL
  walks the primary key from the newest event and, not knowing that ``at`` follows ``id``, reads
  half the table to reach a range in the past;
- object type: ``(object_type, id)``; one object: ``(object_type, object_id, id)``;
- user: ``(actor_user, id)``;
- search: the word index ``AuditWord (word, event)``.

Why a word index and not ``LIKE '%word%'``: a substring match cannot use an index, so a search
for a rare word (or one that matches nothing) read all 1,000,000 rows on every page load, far
over the 200 ms the page must answer in. PostgreSQL's trigram index and SQLite's FTS5 would each
fix that, but with two code paths and planners that, for a common word, may bitmap-scan hundreds
of thousands of matches and sort them. A table of (word, event id) rows is the same on both
databases and its plan is always the same: walk the searched word's index entries backwards from
N, join each to its event by primary key, stop after one page. The price is whole-word matching
("alice" finds "alice@example.com"; "ali" does not), which suits names, emails and actions. A
search of several words drives from the rarest one and checks the others per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from herald.audit.models import AuditEvent, AuditWord
from herald.audit.search import words

PAGE_SIZE = 50
# Counting a word's matches up to this bound is enough to tell rare from common, and stays cheap.
RARITY_PROBE = 1000


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


def _rarest_first(terms: list[str]) -> list[str]:
    if len(terms) < 2:
        return terms
    seen = {t: AuditWord.objects.filter(word=t)[:RARITY_PROBE].count() for t in terms}
    return sorted(terms, key=seen.__getitem__)


# How far ``at`` may lag behind id order (a transaction's length, in practice milliseconds).
CLOCK_MARGIN = timedelta(days=1)


def _first_id_from(moment: datetime) -> int | None:
    """The id of the first event, in time, at or after ``moment`` (one step in the at index)."""
    return (
        AuditEvent.objects.filter(at__gte=moment)
        .order_by("at")
        .values_list("id", flat=True)
        .first()
    )


def _id_range(flt: HistoryFilter, before_id: int | None) -> tuple[int | None, int | None] | None:
    """Ids ``[low, high)`` that hold every event of the filter's dates, or None if none can."""
    low, high = None, before_id
    if flt.since:
        low = _first_id_from(_day_start(flt.since) - CLOCK_MARGIN)
        if low is None:
            return None  # nothing was recorded since then
    if flt.until:
        after = _first_id_from(_day_start(flt.until + timedelta(days=1)) + CLOCK_MARGIN)
        if after is not None:
            high = after if high is None else min(high, after)
    return low, high


def _matching(
    events: QuerySet[AuditEvent], terms: list[str], low: int | None, high: int | None
) -> QuerySet[AuditEvent]:
    """``events`` having every word of ``terms`` (rarest first), newest first."""
    # Join the rarest word's index entries and order by *their* event id, so that the database
    # walks the (word, event) index backwards instead of sorting the matches.
    # (One filter() call: a second one would join the words table a second time.)
    first, *others = terms
    on_word: dict[str, object] = {"words__word": first}
    if low is not None:
        on_word["words__event_id__gte"] = low
    if high is not None:
        on_word["words__event_id__lt"] = high
    events = events.filter(**on_word).order_by("-words__event_id")
    for other in others:
        events = events.filter(
            Exists(AuditWord.objects.filter(word=other, event_id=OuterRef("id")))
        )
    return events


def history(
    flt: HistoryFilter, before_id: int | None = None
) -> tuple[list[AuditEvent], int | None]:
    """One page of events, newest first, and the id to pass as ``before_id`` for the next page."""
    id_range = _id_range(flt, before_id)
    if id_range is None:
        return [], None
    low, high = id_range
    events: QuerySet[AuditEvent] = AuditEvent.objects.all()
    # On the event's id *and*, when searching, on the word rows' event id: PostgreSQL does not
    # carry an inequality across a join, and would otherwise merge-join from the newest event.
    if low is not None:
        events = events.filter(id__gte=low)
    if high is not None:
        events = events.filter(id__lt=high)
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
    terms = _rarest_first(words(flt.search))
    events = _matching(events, terms, low, high) if terms else events.order_by("-id")
    rows = list(events[: PAGE_SIZE + 1])
    next_before = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_before


# The distinct object types by a "loose index scan": jump from one type to the next in the
# (object_type, id) index instead of reading every row, which SELECT DISTINCT would on both
# databases (neither skips through an index by itself).
_OBJECT_TYPES_SQL = """
WITH RECURSIVE types(t) AS (
    SELECT MIN(object_type) FROM audit_auditevent
    UNION ALL
    SELECT (SELECT MIN(object_type) FROM audit_auditevent WHERE object_type > types.t)
    FROM types WHERE types.t IS NOT NULL
)
SELECT t FROM types WHERE t IS NOT NULL
"""


def object_types() -> list[str]:
    """The object types the history holds, for the filter's menu."""
    with connection.cursor() as cursor:
        cursor.execute(_OBJECT_TYPES_SQL)
        return [row[0] for row in cursor.fetchall()]

"""What /healthz reports: the database answers, how old the newest worker heartbeat is, and
whether this machine's tracking journal is being recorded (herald.tracking.journal)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from herald.core.models import WorkerHeartbeat
from herald.tracking import journal


@dataclass(frozen=True)
class Health:
    database_ok: bool
    database_error: str | None
    worker_age_s: float | None  # None: no worker has ever beaten
    journal_waiting_bytes: int = 0
    journal_stale_segments: int = 0

    @property
    def worker_ok(self) -> bool:
        return self.worker_age_s is not None and self.worker_age_s <= settings.WORKER_STALE_SECONDS

    @property
    def journal_ok(self) -> bool:
        return self.journal_stale_segments == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok"
            if self.database_ok and self.worker_ok and self.journal_ok
            else ("degraded" if self.database_ok else "down"),
            "database": {"ok": self.database_ok, "error": self.database_error},
            "worker": {
                "ok": self.worker_ok,
                "heartbeat_age_s": None
                if self.worker_age_s is None
                else round(self.worker_age_s, 1),
                "stale_after_s": settings.WORKER_STALE_SECONDS,
            },
            # Opens and clicks this machine answered that no worker has recorded yet.
            "tracking_journal": {
                "ok": self.journal_ok,
                "waiting_bytes": self.journal_waiting_bytes,
                "stale_segments": self.journal_stale_segments,
            },
        }


def check() -> Health:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        newest = (
            WorkerHeartbeat.objects.filter(stopped_at__isnull=True).order_by("-beat_at").first()
        )
        waiting = journal.backlog(stale_after=settings.WORKER_STALE_SECONDS)
    except DatabaseError as exc:
        return Health(False, str(exc).strip().splitlines()[0] if str(exc) else repr(exc), None)
    age = None if newest is None else (timezone.now() - newest.beat_at).total_seconds()
    return Health(True, None, age, waiting.waiting_bytes, waiting.stale_segments)

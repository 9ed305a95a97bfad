"""What /healthz reports: the database answers, and how old the newest worker heartbeat is."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from herald.core.models import WorkerHeartbeat


@dataclass(frozen=True)
class Health:
    database_ok: bool
    database_error: str | None
    worker_age_s: float | None  # None: no worker has ever beaten

    @property
    def worker_ok(self) -> bool:
        return self.worker_age_s is not None and self.worker_age_s <= settings.WORKER_STALE_SECONDS

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok"
            if self.database_ok and self.worker_ok
            else ("degraded" if self.database_ok else "down"),
            "database": {"ok": self.database_ok, "error": self.database_error},
            "worker": {
                "ok": self.worker_ok,
                "heartbeat_age_s": None
                if self.worker_age_s is None
                else round(self.worker_age_s, 1),
                "stale_after_s": settings.WORKER_STALE_SECONDS,
            },
        }


def check() -> Health:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        newest = (
            WorkerHeartbeat.objects.filter(stopped_at__isnull=True).order_by("-beat_at").first()
        )
    except DatabaseError as exc:
        return Health(False, str(exc).strip().splitlines()[0] if str(exc) else repr(exc), None)
    age = None if newest is None else (timezone.now() - newest.beat_at).total_seconds()
    return Health(True, None, age)

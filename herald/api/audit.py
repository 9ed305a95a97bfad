"""API: the audit history, with the history page's filters."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router

from herald.api import auth
from herald.api.schemas import AuditPage
from herald.audit import queries

router = Router(tags=["audit"])


@router.get("/audit", response=AuditPage, auth=auth.MANAGER)
def list_audit(
    request: HttpRequest,
    q: str = "",
    object_type: str = "",
    object_id: str = "",
    user_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
) -> dict:
    flt = queries.HistoryFilter(q, object_type, object_id, user_id, since, until)
    events, next_before = queries.history(flt, before_id=before)
    return {
        "events": [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor_label,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "object_repr": e.object_repr,
                "changes": e.changes,
            }
            for e in events
        ],
        "next_before": next_before,
    }

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from herald.accounts.access import role_required
from herald.accounts.models import Role, User
from herald.audit import queries


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@role_required(Role.MANAGER)
def history(request: HttpRequest) -> HttpResponse:
    params = request.GET
    flt = queries.HistoryFilter(
        search=params.get("q", "").strip(),
        object_type=params.get("type", ""),
        object_id=params.get("object", "").strip(),
        user_id=_int(params.get("user")),
        since=_date(params.get("since")),
        until=_date(params.get("until")),
    )
    events, next_before = queries.history(flt, before_id=_int(params.get("before")))
    next_query = None
    if next_before is not None:
        query = params.copy()
        query["before"] = str(next_before)
        next_query = query.urlencode()
    return render(
        request,
        "audit/history.html",
        {
            "events": events,
            "filter": flt,
            "next_query": next_query,
            "first_page": "before" in params,
            "object_types": queries.object_types(),
            "users": User.objects.order_by("email").only("id", "email"),
        },
    )

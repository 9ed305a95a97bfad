"""Template context for every page: the navigation entries the user may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from herald.accounts.access import user_has_role
from herald.core.navigation import NAVIGATION


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items: list[dict[str, Any]] = [
        {"label": item.label, "url": reverse(item.url_name)}
        for item in NAVIGATION
        if user_has_role(user, item.role)
    ]
    # One entry is current: the one whose address is the longest prefix of this page's, so that
    # /mailboxes/sandbox/3/ lights "Sandbox mailbox", not also "Mailboxes".
    urls = [str(entry["url"]) for entry in items]
    matching = [u for u in urls if request.path == u or (u != "/" and request.path.startswith(u))]
    current = max(matching, key=len) if matching else None
    for entry in items:
        entry["active"] = entry["url"] == current
    return {"nav_items": items}

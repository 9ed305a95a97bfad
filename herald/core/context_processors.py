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
    items = []
    for item in NAVIGATION:
        if user_has_role(user, item.role):
            url = reverse(item.url_name)
            active = request.path == url or (url != "/" and request.path.startswith(url))
            items.append({"label": item.label, "url": url, "active": active})
    return {"nav_items": items}

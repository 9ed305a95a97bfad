"""Notes each signed-in user's activity for their presence: an agent idle longer than the
account's setting goes offline (``herald.routing.actions.sweep``). At most one write per user
every ``SEEN_EVERY``, remembered in this process so that most requests cost nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from herald.routing.actions import SEEN_EVERY, seen

recent_writes: dict[int, float] = {}  # user id: when this process last wrote their activity


class PresenceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and response.status_code < 400:
            now = time.monotonic()
            if now - recent_writes.get(user.pk, -1e9) >= SEEN_EVERY.total_seconds():
                recent_writes[user.pk] = now
                seen(user)
        return response

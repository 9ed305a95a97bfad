"""Template context for every page: the agent's presence, for the selector in the header of
those who work a mailbox."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from herald.conversations.models import MailboxMember
from herald.routing.models import Presence, PresenceStatus


def presence(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.headers.get("HX-Request"):
        return {}
    if not MailboxMember.objects.filter(user=user).exists():
        return {}
    status = (
        Presence.objects.filter(user=user).values_list("status", flat=True).first()
        or PresenceStatus.OFFLINE
    )
    return {"presence": status, "presence_choices": PresenceStatus.choices}

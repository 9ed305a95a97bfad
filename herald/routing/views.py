"""Pages of routing: an agent's presence (the selector in every page's header) and the
supervisor's live view, which refreshes itself every few seconds."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from herald.accounts.access import current_user, role_required
from herald.accounts.models import Role
from herald.routing import actions, queries
from herald.routing.models import PresenceStatus

REFRESH_SECONDS = 5


@role_required(Role.AGENT)
@require_POST
def presence(request: HttpRequest) -> HttpResponse:
    """The agent sets their own presence; htmx gets the selector back, a plain form the page."""
    user = current_user(request)
    try:
        row = actions.do_set_presence(user, request.POST.get("status", ""))
    except ValidationError:
        return HttpResponse(status=400)
    if request.headers.get("HX-Request"):
        return render(
            request,
            "routing/_presence.html",
            {"presence": row.status, "presence_choices": PresenceStatus.choices},
        )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return redirect(back)


def _supervisor_context() -> dict[str, object]:
    now = timezone.now()
    return {
        "mailboxes": [queries.mailbox_figures(m, now) for m in queries.desk_mailboxes()],
        "campaigns": queries.campaign_figures(now),
        "refresh": REFRESH_SECONDS,
        "at": now,
    }


@role_required(Role.MANAGER)
def supervisor(request: HttpRequest) -> HttpResponse:
    return render(request, "routing/supervisor.html", _supervisor_context())


@role_required(Role.MANAGER)
def supervisor_live(request: HttpRequest) -> HttpResponse:
    """The supervisor page's figures alone: the page fetches them every few seconds."""
    return render(request, "routing/_supervisor.html", _supervisor_context())

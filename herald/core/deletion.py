"""Deleting what is in use is refused with the reasons, never done half-way or silently.

Each ``do_delete_*`` action checks what still needs the object (a running campaign needs its
lists, a mailbox's automatic answer needs its template, a desk needs its mailbox) and raises
``InUse`` listing it; the pages show the reasons, the API answers 409 with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor


class InUse(Exception):  # noqa: N818 - a refusal, named for what the caller reads
    def __init__(self, what: str, reasons: list[str]) -> None:
        super().__init__(f"{what} cannot be deleted: " + "; ".join(reasons))
        self.what = what
        self.reasons = reasons


def refuse_if(what: str, reasons: list[str]) -> None:
    if reasons:
        raise InUse(what, reasons)


def delete_view(
    model: type[Model],
    action: Callable[[Actor, Any], None],
    *,
    parameter: str,
    kept_at: str,
    gone_to: str,
    role: Role = Role.MANAGER,
) -> Callable[..., HttpResponse]:
    """The page action behind a "Delete" button: done and back to the list, or refused and
    back to the object's page with the reasons."""

    @role_required(role)
    @require_POST
    def view(request: HttpRequest, **kwargs: int) -> HttpResponse:
        obj = get_object_or_404(model, pk=kwargs[parameter])
        try:
            action(Actor.for_request(request), obj)
        except InUse as exc:
            messages.error(request, str(exc))
            return redirect(reverse(kept_at, kwargs=kwargs))
        messages.success(request, _("“%(name)s” is deleted.") % {"name": obj})
        return redirect(gone_to)

    return view

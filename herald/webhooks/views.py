"""The webhooks pages (admins): endpoints, each with its secret, settings and delivery log."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.core.forms import add_errors
from herald.webhooks import actions
from herald.webhooks.events import EVENT_TYPES
from herald.webhooks.models import Endpoint, Message, MessageState

LOG_ROWS = 100


class EndpointForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=2000, assume_scheme="https")
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        help_text=gettext_lazy("None chosen: every event."),
        widget=forms.SelectMultiple(attrs={"size": 12}),
    )
    active = forms.BooleanField(label=gettext_lazy("On"), required=False, initial=True)


@role_required(Role.ADMIN)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = actions.do_create_endpoint(
                Actor.for_request(request),
                form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
                active=form.cleaned_data["active"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Endpoint added: give its secret to the receiver."))
            return redirect("webhooks:detail", endpoint_id=endpoint.pk)
    endpoints = Endpoint.objects.all()
    return render(request, "webhooks/list.html", {"endpoints": endpoints, "form": form})


@role_required(Role.ADMIN)
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    initial = {f: getattr(endpoint, f) for f in ("url", "description", "event_types", "active")}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_change_endpoint(Actor.for_request(request), endpoint, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("webhooks:detail", endpoint_id=endpoint.pk)
    log = Message.objects.filter(endpoint=endpoint).order_by("-id")
    state = request.GET.get("state", "")
    if state in MessageState.values:
        log = log.filter(state=state)
    context = {
        "endpoint": endpoint,
        "form": form,
        "log": log[:LOG_ROWS],
        "state": state,
        "states": MessageState.choices,
        "failed": Message.objects.filter(endpoint=endpoint, state=MessageState.FAILED).count(),
    }
    return render(request, "webhooks/detail.html", context)


@role_required(Role.ADMIN)
@require_POST
def endpoint_action(request: HttpRequest, endpoint_id: int, action: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    actor = Actor.for_request(request)
    if action == "rotate":
        actions.do_rotate_secret(actor, endpoint)
        messages.success(request, _("New secret. The previous one also signs for 24 hours."))
    elif action == "replay":
        count = actions.do_replay(actor, endpoint)
        messages.success(request, _("%(n)d messages will be sent again.") % {"n": count})
    elif action == "delete":
        actions.do_delete_endpoint(actor, endpoint)
        messages.success(request, _("Endpoint removed."))
        return redirect("webhooks:list")
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)


@role_required(Role.ADMIN)
@require_POST
def message_replay(request: HttpRequest, endpoint_id: int, message_pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    message = get_object_or_404(Message, pk=message_pk, endpoint=endpoint)
    actions.do_replay(Actor.for_request(request), endpoint, message)
    messages.success(request, _("The message will be sent again."))
    return redirect("webhooks:detail", endpoint_id=endpoint.pk)

"""The dispositions page (managers): the codes that trigger emails, their counts, recent calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.core.deletion import delete_view
from herald.core.forms import add_errors
from herald.dispositions import actions, queries
from herald.dispositions.models import MAX_DELAY_MINUTES, Disposition, DispositionRule
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template

RECENT = 50
STATS_DAYS = 30


class RuleForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Disposition code"),
        max_length=64,
        help_text=gettext_lazy("As the voice platform sends it, e.g. CALLBACK_CONFIRMED."),
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    template = forms.ModelChoiceField(
        label=gettext_lazy("Template"), queryset=Template.objects.order_by("name")
    )
    mailbox = forms.ModelChoiceField(
        label=gettext_lazy("Mailbox"), queryset=Mailbox.objects.order_by("name")
    )
    delay_minutes = forms.IntegerField(
        label=gettext_lazy("Delay after the call (minutes)"),
        min_value=0,
        max_value=MAX_DELAY_MINUTES,
        initial=0,
    )
    windows = forms.CharField(
        label=gettext_lazy("Send windows"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy(
            "Empty: any time. E.g. Mon-Fri 09:00-18:00; Sat 10:00-13:00 (the account's time zone)."
        ),
    )
    active = forms.BooleanField(label=gettext_lazy("On"), required=False, initial=True)


def _save(
    request: HttpRequest, form: RuleForm, rule: DispositionRule | None
) -> DispositionRule | None:
    if not form.is_valid():
        return None
    data: dict[str, Any] = dict(form.cleaned_data)
    try:
        data["windows"] = actions.windows_from_text(data["windows"])
        return actions.do_save_rule(Actor.for_request(request), rule, **data)
    except ValidationError as exc:
        add_errors(form, exc)
        return None


@role_required(Role.MANAGER)
def page(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST or None)
    if request.method == "POST" and _save(request, form, None) is not None:
        messages.success(request, _("Rule added."))
        return redirect("dispositions:page")
    since = timezone.now() - dt.timedelta(days=STATS_DAYS)
    code = request.GET.get("code", "")
    calls = Disposition.objects.select_related("contact").order_by("-id")
    if code:
        calls = calls.filter(code=code.strip().upper())
    context = {
        "form": form,
        "rules": [
            (r, actions.windows_text(r))
            for r in DispositionRule.objects.select_related("template", "mailbox")
        ],
        "counts": queries.counts_per_code(since),
        "days": STATS_DAYS,
        "calls": calls[:RECENT],
        "code": code,
    }
    return render(request, "dispositions/page.html", context)


@role_required(Role.MANAGER)
def rule_detail(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(DispositionRule, pk=rule_id)
    initial = {
        "code": rule.code,
        "description": rule.description,
        "template": rule.template_id,
        "mailbox": rule.mailbox_id,
        "delay_minutes": rule.delay_minutes,
        "windows": actions.windows_text(rule),
        "active": rule.active,
    }
    form = RuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and _save(request, form, rule) is not None:
        messages.success(request, _("Saved."))
        return redirect("dispositions:page")
    return render(request, "dispositions/rule.html", {"rule": rule, "form": form})


rule_delete = delete_view(
    DispositionRule,
    actions.do_delete_rule,
    parameter="rule_id",
    kept_at="dispositions:rule",
    gone_to="dispositions:page",
)

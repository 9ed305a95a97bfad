"""Campaign pages: the list, the form (with the live recipient count), and the detail page with
its lifecycle buttons and the progress panel it refreshes every few seconds. Thin: each parses
input, calls one action or query, presents. Dates are shown and read in the account's zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.campaigns import actions, queries
from herald.campaigns.forms import CampaignForm, recurrence_text, windows_text
from herald.campaigns.models import AddressChoice, Campaign, CampaignStatus
from herald.core.forms import add_errors
from herald.routing import capacity
from herald.tracking import queries as tracking_queries

FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
REFRESH_SECONDS = 3  # the detail page's progress panel
PER_PAGE = 25


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("mailbox", "template", "version"), pk=campaign_id
    )


@role_required(Role.MANAGER)
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = (
        Campaign.objects.select_related("mailbox")
        .annotate(n_lists=Count("lists"))
        .order_by("-created_at", "-id")
    )
    page = Paginator(campaigns, PER_PAGE).get_page(request.GET.get("page"))
    # One count by state per campaign shown, each on its (campaign, state) index.
    rows = [
        (campaign, queries.progress(campaign.pk), tracking_queries.rates(campaign.pk))
        for campaign in page
    ]
    return render(request, "campaigns/list.html", {"page": page, "rows": rows})


@role_required(Role.MANAGER)
def campaign_edit(request: HttpRequest, campaign_id: int | None = None) -> HttpResponse:
    campaign = _campaign(campaign_id) if campaign_id is not None else None
    if campaign is not None and campaign.status in FINISHED:
        messages.error(
            request,
            _("A %(status)s campaign cannot be changed any more.")
            % {"status": campaign.get_status_display()},
        )
        return redirect("campaigns:detail", campaign.pk)
    with timezone.override(actions.account_zone()):
        form = CampaignForm(request.POST or None, instance=campaign or Campaign())
        if request.method == "POST" and form.is_valid():
            try:
                saved = actions.do_save_campaign(
                    Actor.for_request(request), campaign, **form.action_arguments()
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Campaign %(name)s saved.") % {"name": saved.name})
                return redirect("campaigns:detail", saved.pk)
        return render(request, "campaigns/edit.html", {"form": form, "campaign": campaign})


@role_required(Role.MANAGER)
def recipients(request: HttpRequest) -> HttpResponse:
    """The form's live count (htmx): recipients of the chosen lists and address choice."""
    list_ids = [int(i) for i in request.GET.getlist("lists") if i.isdigit()]
    addresses = request.GET.get("addresses", AddressChoice.FIRST_VALID)
    count = queries.recipient_count(list_ids, addresses)
    return render(request, "campaigns/_recipients.html", {"count": count, "chosen": bool(list_ids)})


def _live(campaign: Campaign) -> dict[str, Any]:
    counts = queries.progress(campaign.pk)
    return {
        "campaign": campaign,
        "counts": counts,
        "done": counts["total"] - counts["to_send"],
        "skipped_reasons": queries.skipped_reasons(campaign.pk),
        "outlook": queries.outlook(campaign, counts, timezone.now()),
        "rates": tracking_queries.rates(campaign.pk),
        "agents_pace": (
            capacity.pace(capacity.observe(campaign.pk, campaign.pace_by_agents_of_id))
            if campaign.pace_by_agents_of_id is not None
            else None
        ),
        "events": queries.recent_events(campaign.pk),
        "refresh": campaign.status not in (*FINISHED, CampaignStatus.DRAFT),
        "refresh_seconds": REFRESH_SECONDS,
    }


@role_required(Role.MANAGER)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _detail(request, _campaign(campaign_id))


def _detail(
    request: HttpRequest, campaign: Campaign, problems: list[str] | None = None
) -> HttpResponse:
    with timezone.override(actions.account_zone()):
        return render(
            request,
            "campaigns/detail.html",
            {
                **_live(campaign),
                "problems": problems or [],
                "lists": campaign.lists.order_by("name"),
                "windows_text": windows_text(campaign.windows),
                "recurrence_text": recurrence_text(campaign.recurrence),
                "status_map": [(k, v) for k, v in (campaign.status_map or {}).items() if v],
                "zone": actions.account_zone().key,
            },
        )


@role_required(Role.MANAGER)
def campaign_live(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The detail page's live panel alone, which it fetches every few seconds (htmx)."""
    with timezone.override(actions.account_zone()):
        return render(request, "campaigns/_live.html", _live(_campaign(campaign_id)))


TRANSITIONS: dict[str, tuple[Callable[[Actor, Campaign], Campaign], Promise]] = {
    "start": (actions.do_start_campaign, gettext_lazy("Campaign %(name)s started.")),
    "pause": (actions.do_pause_campaign, gettext_lazy("Campaign %(name)s paused.")),
    "resume": (actions.do_resume_campaign, gettext_lazy("Campaign %(name)s resumed.")),
    "cancel": (actions.do_cancel_campaign, gettext_lazy("Campaign %(name)s cancelled.")),
}


@role_required(Role.MANAGER)
@require_POST
def campaign_transition(request: HttpRequest, campaign_id: int, transition: str) -> HttpResponse:
    """Start, pause, resume or cancel. A refused start shows its pre-flight problems."""
    campaign = _campaign(campaign_id)
    action, done = TRANSITIONS[transition]
    try:
        changed = action(Actor.for_request(request), campaign)
    except ValidationError as exc:
        campaign.refresh_from_db()
        return _detail(request, campaign, problems=exc.messages)
    if changed.status == CampaignStatus.SCHEDULED and transition == "start":
        messages.success(request, _("Campaign %(name)s scheduled.") % {"name": changed.name})
    else:
        messages.success(request, str(done) % {"name": changed.name})
    return redirect("campaigns:detail", changed.pk)


@role_required(Role.MANAGER)
@require_POST
def campaign_duplicate(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A new draft with this campaign's settings and lists, opened for editing."""
    copy = actions.do_duplicate_campaign(Actor.for_request(request), _campaign(campaign_id))
    messages.success(request, _("%(name)s created: check it, then start it.") % {"name": copy.name})
    return redirect("campaigns:edit", copy.pk)

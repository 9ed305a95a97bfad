"""Recipient-facing pages (public: the token in the URL is the only key) and the supervisors'
pages: a campaign's statistics and the dashboard of running campaigns.

Recipient pages:

- ``/o/<token>.gif`` and ``/c/<token>/<n>``: open pixel and click redirect (normally answered by
  ``fastpath`` before Django; these views give the same answers when it is off);
- ``/u/<token>``: GET shows a confirmation page, in the contact's language, with one button, and
  never unsubscribes by itself (mail scanners fetch every link); POST unsubscribes — the page's
  button, and the RFC 8058 one-click POST (``List-Unsubscribe=One-Click``) that mail programs
  send with no cookie and no CSRF token: both are exempt from CSRF, the token being the key;
- ``/r/<token>/<score>``: records a rating of 1 to 5 and thanks the recipient;
- ``/v/<token>``: the message as that recipient received it.

A token Herald did not make, or of a delivery that no longer exists, gets 404 everywhere.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from herald.accounts.access import public, role_required
from herald.accounts.models import Account, Role
from herald.audit.actors import Actor
from herald.campaigns import actions as campaign_actions
from herald.campaigns import tokens, windows
from herald.campaigns.models import Campaign, Delivery
from herald.campaigns.queries import progress
from herald.contacts.models import Contact, is_suppressed
from herald.core.spreadsheet import Lines, SafeWriter
from herald.mailboxes.models import Mailbox
from herald.tracking import chart, queries, recording
from herald.tracking.actions import (
    do_confirm_optout,
    do_unsubscribe,
    read_optout_confirmation,
)
from herald.tracking.models import Engagement
from herald.tracking.pixel import GIF
from herald.tracking.sent import render_sent

ONE_CLICK = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click
PAGE_SIZE = 50


# -- recipients --------------------------------------------------------------------------------


def _delivery(token: str) -> Delivery:
    """The delivery a token names, or 404 (forged, altered, or deleted since)."""
    ident = tokens.delivery_id(token)
    if ident is None:
        raise Http404("not a link of ours")
    delivery = Delivery.objects.filter(pk=ident).first()
    if delivery is None:
        raise Http404("no such message any more")
    return delivery


def _client(request: HttpRequest) -> tuple[str, str]:
    return request.headers.get("User-Agent", ""), request.META.get("REMOTE_ADDR", "")


def _hit(request: HttpRequest, kind: str, token: str, **extra: Any) -> recording.Result:
    ident = tokens.delivery_id(token)
    if ident is None:
        raise Http404("not a link of ours")
    user_agent, ip = _client(request)
    hit = recording.Hit(
        kind=kind,
        delivery_id=ident,
        at=timezone.now(),
        user_agent=user_agent,
        ip=ip,
        head=request.method == "HEAD",
        **extra,
    )
    result = recording.record([hit])[0]
    if not result.found:
        raise Http404("not a link of ours")
    return result


def _language(delivery: Delivery, campaign: Campaign | None = None) -> str:
    """The contact's language when Herald speaks it, else the template's, else the account's."""
    contact = Contact.objects.filter(pk=delivery.contact_id).only("language").first()
    candidates = [contact.language if contact else ""]
    campaign = campaign or Campaign.objects.select_related("version").get(pk=delivery.campaign_id)
    if campaign.version is not None:
        candidates.append(campaign.version.source.get("language", ""))
    return _first_known(candidates)


def _address_language(address: str) -> str:
    """The language of the contact an address belongs to (the first one), else the account's."""
    found = (
        Contact.objects.filter(addresses__email_key=address.lower(), erased_at__isnull=True)
        .order_by("pk")
        .values_list("language", flat=True)
        .first()
    )
    return _first_known([found or ""])


def _first_known(candidates: list[str]) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    candidates = [*candidates, Account.load().language]
    for value in candidates:
        code = (value or "").lower().replace("_", "-").split("-")[0]
        if code in known:
            return code
    return settings.LANGUAGE_CODE


def _no_index(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@public
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    _hit(request, recording.OPEN, token)
    response = HttpResponse(GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    return response


@public
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str, index: int) -> HttpResponse:
    result = _hit(request, recording.CLICK, token, link=index)
    if not result.url:
        raise Http404("no such link")
    return _no_index(HttpResponseRedirect(result.url))


@public
@csrf_exempt  # the RFC 8058 POST carries no CSRF token and no cookie; the token is the key
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = _delivery(token)
    campaign = Campaign.objects.select_related("version", "mailbox").get(pk=delivery.campaign_id)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == ONE_CLICK
        user_agent, ip = _client(request)
        done = do_unsubscribe(
            delivery, via="one-click" if one_click else "page", user_agent=user_agent, ip=ip
        )
        already = done.already
        state = "done"
    else:
        already = Engagement.objects.filter(pk=delivery.pk, unsubscribed_at__isnull=False).exists()
        state = "done" if already else "confirm"
    with translation.override(_language(delivery, campaign)):
        response = render(
            request,
            "tracking/unsubscribe.html",
            {
                "state": state,
                "already": already,
                "email": delivery.email,
                "sender": campaign.mailbox.from_name or campaign.mailbox.from_address,
            },
        )
    return _no_index(response)


@public
@csrf_exempt  # as the unsubscribe page: the signed token in the link is the key
@require_http_methods(["GET", "HEAD", "POST"])
def confirm_optout(request: HttpRequest, signed: str) -> HttpResponse:
    """The link of the message asking to confirm an opt-out by reply whose sender nobody
    vouched for: the page asks, the button (a POST, the signed link its only key) suppresses
    the address."""
    found = read_optout_confirmation(signed)
    if found is None:
        raise Http404("This link is not valid any more.")
    address, mailbox_id = found
    mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    sender = (mailbox.from_name or mailbox.from_address) if mailbox else ""
    if request.method == "POST":
        do_confirm_optout(address, f"replied to {sender or 'a mailbox'}: opt-out confirmed")
        state, already = "done", False
    else:
        already = is_suppressed(address) is not None
        state = "done" if already else "confirm"
    with translation.override(_address_language(address)):
        response = render(
            request,
            "tracking/unsubscribe.html",
            {"state": state, "already": already, "email": address, "sender": sender},
        )
    return _no_index(response)


@public
@require_http_methods(["GET", "HEAD"])
def rate(request: HttpRequest, token: str, score: int) -> HttpResponse:
    _hit(request, recording.RATE, token, score=score)
    delivery = _delivery(token)
    campaign = Campaign.objects.select_related("version").get(pk=delivery.campaign_id)
    with translation.override(_language(delivery, campaign)):
        response = render(
            request,
            "tracking/thanks.html",
            {
                "score": score,
                "scores": list(recording.RATING_SCORES),
                "text": campaign.thank_you_text,
            },
        )
    return _no_index(response)


@public
@require_http_methods(["GET", "HEAD"])
def view_in_browser(request: HttpRequest, token: str) -> HttpResponse:
    delivery = _delivery(token)
    if delivery.state not in ("sent", "bounced"):
        raise Http404("this message was not sent")
    sent = render_sent(delivery)
    if sent is None:
        raise Http404("this message cannot be shown any more")
    response = HttpResponse(sent.message.html, content_type="text/html; charset=utf-8")
    # The template was cleaned when saved; the page may still not run anything or be framed.
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )
    return _no_index(response)


# -- supervisors -------------------------------------------------------------------------------


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("version", "template__current_version", "mailbox"),
        pk=campaign_id,
    )


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(Account.load().timezone or "UTC")


def _filters(request: HttpRequest) -> dict[str, str]:
    what = request.GET.get("what", "opened")
    who = request.GET.get("who", "all")
    return {
        "what": what if what in queries.WHAT else "opened",
        "who": who if who in queries.WHO else "all",
        "q": request.GET.get("q", "").strip()[:200],
    }


def _live_context(campaign: Campaign) -> dict[str, Any]:
    counts = queries.counters(campaign.pk)
    targets = recording.campaign_links(campaign)
    svg = chart.timeline_svg(
        queries.timeline(campaign.pk),
        tz=_zone(),
        labels={
            "sent": _("sent"),
            "opened": _("opened (people)"),
            "clicked": _("clicked (people)"),
            "empty": _("Nothing sent yet."),
        },
    )
    ratings = [(score, counts.ratings.get(score, 0)) for score in recording.RATING_SCORES]
    top = max([n for _s, n in ratings] + [1])
    average = counts.rating_average
    return {
        "campaign": campaign,
        "p": counts.progress,
        "sent": counts.sent,
        "skipped_reasons": counts.skipped_reasons,
        "read": counts.read,
        "read_percent": counts.percent(counts.read),
        "opened_machine": counts.tally("opened:unique_machine"),
        "opens_human": counts.tally("opened:human"),
        "opens_machine": counts.tally("opened:machine"),
        "clicked": counts.clicked,
        "clicked_percent": counts.percent(counts.clicked),
        "clicked_machine": counts.tally("clicked:unique_machine"),
        "clicks_human": counts.tally("clicked:human"),
        "clicks_machine": counts.tally("clicked:machine"),
        "unsubscribed": counts.tally("unsubscribed"),
        "replied": counts.tally("replied"),
        "rated": counts.rated,
        "rating_average": round(average, 2) if average is not None else None,
        "links": queries.link_rows(campaign, targets, counts),
        "chart": mark_safe(svg),  # noqa: S308 - built by chart.timeline_svg, every text escaped
        "ratings": [(score, n, round(100 * n / top)) for score, n in ratings],
        "updated_at": timezone.now(),
    }


@role_required(Role.MANAGER)
def campaign_stats(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    filters = _filters(request)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    found, more = queries.people(
        campaign.pk,
        filters["what"],
        filters["who"],
        filters["q"],
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    context = _live_context(campaign)
    context.update(
        filters=filters,
        people=found,
        page=page,
        more=more,
        what_choices=[
            ("opened", _("opened")),
            ("clicked", _("clicked")),
            ("rated", _("rated")),
            ("unsubscribed", _("unsubscribed")),
        ],
        who_choices=[
            ("all", _("everyone")),
            ("human", _("people")),
            ("machine", _("machines only")),
        ],
    )
    return render(request, "tracking/stats.html", context)


@role_required(Role.MANAGER)
def campaign_stats_live(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The counters, chart and links alone: what the page fetches every few seconds."""
    return render(request, "tracking/_stats_live.html", _live_context(_campaign(campaign_id)))


def _csv_rows(campaign: Campaign, filters: dict[str, str]) -> Iterator[list[str]]:
    yield [
        "email",
        "name",
        "first_open_at",
        "read_at",
        "last_open_at",
        "opens",
        "machine_opens",
        "first_click_at",
        "clicked_at",
        "last_click_at",
        "clicks",
        "machine_clicks",
        "links",
        "rating",
        "unsubscribed_at",
    ]

    def when(value: Any) -> str:
        return value.isoformat() if value else ""

    for p in queries.all_people(campaign.pk, filters["what"], filters["who"], filters["q"]):
        yield [
            p.email,
            p.name,
            when(p.first_open_at),
            when(p.read_at),
            when(p.last_open_at),
            str(p.opens),
            str(p.machine_opens),
            when(p.first_click_at),
            when(p.clicked_at),
            when(p.last_click_at),
            str(p.clicks),
            str(p.machine_clicks),
            " ".join(str(i) for i in p.links),
            str(p.rating or ""),
            when(p.unsubscribed_at),
        ]


@role_required(Role.MANAGER)
def people_csv(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    filters = _filters(request)
    writer = SafeWriter(Lines())
    rows = (writer.writerow(row) for row in _csv_rows(campaign, filters))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = f"campaign-{campaign.pk}-{filters['what']}-{filters['who']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response  # type: ignore[return-value]  # streamed: the list may be large


def _window_state(campaign: Campaign, now: Any, zone: Any) -> str:
    schedule = windows.from_json(campaign.windows or [])
    if not schedule.windows:
        return _("always open")
    if campaign.window_zone == "contact":
        return _("in each contact's time zone")
    if windows.is_open(schedule, now, zone):
        return _("open")
    opens = timezone.localtime(windows.next_open(schedule, now, zone))  # the viewer's zone
    return _("closed, opens %(when)s") % {"when": date_format(opens, "D j M, H:i")}


def _dashboard_rows() -> list[dict[str, Any]]:
    now = timezone.now()
    zone = _zone()
    rows = []
    for campaign in queries.watched_campaigns():
        state = progress(campaign.pk) if campaign.run else {"total": 0, "to_send": 0}
        total = state["total"]
        done = total - state["to_send"]
        rate = queries.rate_now(campaign.pk, now) if campaign.status == "running" else 0.0
        eta = None
        if rate > 0 and state["to_send"]:
            eta = now + dt.timedelta(seconds=state["to_send"] / rate)
        rows.append(
            {
                "campaign": campaign,
                "total": total,
                "done": done,
                "percent": round(100 * done / total) if total else 0,
                "to_send": state["to_send"],
                "rate_per_min": round(rate * 60, 1),
                "eta": eta,
                "window": _window_state(campaign, now, zone),
                "error": queries.last_error(campaign.pk),
            }
        )
    return rows


@role_required(Role.MANAGER)
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "tracking/dashboard.html", {"rows": _dashboard_rows()})


@role_required(Role.MANAGER)
def dashboard_live(request: HttpRequest) -> HttpResponse:
    return render(request, "tracking/_dashboard_live.html", {"rows": _dashboard_rows()})


@role_required(Role.MANAGER)
@require_POST
def dashboard_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        campaign_actions.do_pause_campaign(Actor.for_request(request), campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Campaign %(name)s paused.") % {"name": campaign.name})
    return redirect("tracking:dashboard")


@role_required(Role.MANAGER)
@require_POST
def dashboard_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        campaign_actions.do_resume_campaign(Actor.for_request(request), campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Campaign %(name)s resumed.") % {"name": campaign.name})
    return redirect("tracking:dashboard")

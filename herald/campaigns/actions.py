"""Changes to campaigns: saving, the lifecycle (start, pause, resume, cancel) and what the worker
does to a campaign on its own (launching a scheduled run, completing, auto-pausing).

Each action is one transaction and writes its audit row in it; a lifecycle transition also
appends a campaign Event. The lifecycle::

    draft ─start─► running (manual start)          running ─pause─► paused ─resume─► running
    draft ─start─► scheduled ─(its time)─► running  running ─(all final)─► completed
    any but completed/cancelled ─cancel─► cancelled  (recurring: completed run ─► scheduled)

A start runs the pre-flight check first and refuses with the list of problems.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.accounts.models import Account
from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor
from herald.campaigns import windows
from herald.campaigns.launch import Launched, insert_deliveries
from herald.campaigns.models import (
    PENDING_STATES,
    STATUS_MAP_OUTCOMES,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryState,
    Event,
    EventKind,
    StartMode,
)
from herald.contacts.models import ContactList, ListMember
from herald.core.deletion import refuse_if

if TYPE_CHECKING:
    from herald.messaging.rendering import CompiledTemplate

EDITABLE_FIELDS = (
    "name",
    "mailbox",
    "template",
    "addresses",
    "subject",
    "bcc",
    "status_map",
    "enabled",
    "start_mode",
    "start_at",
    "recurrence",
    "windows",
    "window_zone",
    "rate_count",
    "rate_unit",
    "wait_seconds",
    "daily_cap",
    "warmup_per_hour",
    "warmup_growth_percent",
    "pace_by_agents_of",
    "failure_percent",
    "failure_window",
    "max_retry_hours",
    "track_opens",
    "track_clicks",
    "optout_template",
    "thank_you_text",
)
PREFLIGHT_SAMPLE = 20  # contacts the template is rendered for before a start


def _audited(campaign: Campaign) -> dict[str, Any]:
    values = snapshot(campaign, EDITABLE_FIELDS)
    if campaign.pk:
        values["lists"] = sorted(campaign.lists.values_list("name", flat=True))
    return values


def account_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(Account.load().timezone or "UTC")


def _check(campaign: Campaign) -> None:  # noqa: PLR0912 - one rule per branch
    """The campaign's own rules, as a ValidationError by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if campaign.rate_count is not None and campaign.wait_seconds is not None:
        add("wait_seconds", _("Pace by messages per unit or by a wait between sends, not both."))
    if campaign.rate_count is not None and campaign.rate_count < 1:
        add("rate_count", _("A rate needs at least 1 message."))
    if campaign.wait_seconds is not None and not campaign.wait_seconds > 0:
        add("wait_seconds", _("The wait between two sends must be more than 0 seconds."))
    if not 1 <= campaign.failure_percent <= 100:
        add("failure_percent", _("Auto-pause needs a percentage between 1 and 100."))
    if campaign.failure_window < 10:
        add("failure_window", _("Auto-pause looks at the last 10 attempts at least."))
    for address in [a.strip() for a in campaign.bcc.replace(";", ",").split(",") if a.strip()]:
        try:
            validate_email(address)
        except ValidationError:
            add("bcc", _("“%(address)s” is not an email address.") % {"address": address})
    unknown = set(campaign.status_map or {}) - set(STATUS_MAP_OUTCOMES)
    if unknown:
        add(
            "status_map",
            _("Unknown outcomes in the status mapping: %(names)s (use %(known)s).")
            % {"names": ", ".join(sorted(unknown)), "known": ", ".join(STATUS_MAP_OUTCOMES)},
        )
    try:
        windows.from_json(campaign.windows or [])
    except (ValueError, TypeError, KeyError) as exc:
        add("windows", str(exc))
    if campaign.start_mode == StartMode.AT and campaign.start_at is None:
        add("start_at", _("Say when the campaign starts."))
    if campaign.start_mode == StartMode.RECURRING:
        try:
            if not campaign.recurrence:
                raise ValueError(_("Say when the campaign recurs, e.g. “Mon 09:00”."))
            windows.recurrence_from_json(campaign.recurrence)
        except (ValueError, TypeError, KeyError) as exc:
            add("recurrence", str(exc))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_save_campaign(
    actor: Actor,
    campaign: Campaign | None,
    *,
    lists: Iterable[ContactList] | None = None,
    **fields: Any,
) -> Campaign:
    """Creates or changes a campaign. A finished campaign cannot change any more."""
    creating = campaign is None
    if campaign is None:
        campaign = Campaign(created_by=actor.user)
    else:
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            raise ValidationError(
                _("A %(status)s campaign cannot be changed any more.")
                % {"status": campaign.get_status_display()}
            )
    before = {} if creating else _audited(campaign)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable on a campaign: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.updated_at = timezone.now()
    campaign.full_clean(exclude=["lists", "created_by", "version"])
    _check(campaign)
    campaign.save()
    if lists is not None:
        campaign.lists.set(list(lists))
    record(
        actor,
        "campaign.create" if creating else "campaign.change",
        campaign,
        diff(before, _audited(campaign)),
    )
    return campaign


def base_url_host() -> str:
    return urlsplit(settings.BASE_URL).hostname or ""


def _local(host: str) -> bool:
    """Whether ``host`` is this machine (or nothing): fine for the sandbox, unreachable for
    anyone the mail goes to."""
    host = host.strip().strip("[]").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def preflight(campaign: Campaign, *, check_connection: bool = True) -> list[str]:
    """What stops this campaign from starting now, in words a manager can act on (empty: go)."""
    from herald.mailboxes.connection import check_smtp
    from herald.messaging.queries import compiled_version

    problems: list[str] = []
    mailbox = campaign.mailbox
    if not campaign.enabled:
        problems.append(_("The campaign is disabled."))
    if not mailbox.is_sandbox and not _local(mailbox.smtp_host) and _local(base_url_host()):
        problems.append(
            _(
                "Links in the messages (unsubscribe, tracking, ratings) would point to "
                "%(url)s, which recipients cannot reach: set HERALD_BASE_URL to the address "
                "Herald is reached at from the Internet (e.g. https://herald.example.com)."
            )
            % {"url": settings.BASE_URL}
        )
    if not mailbox.enabled:
        problems.append(_("The mailbox “%(name)s” is disabled.") % {"name": mailbox.name})
    elif check_connection:
        result = check_smtp(mailbox)
        if not result.ok:
            problems.append(
                _("The mailbox “%(name)s” cannot send: %(detail)s")
                % {"name": mailbox.name, "detail": result.detail}
            )
    list_ids = list(campaign.lists.values_list("id", flat=True))
    members = ListMember.objects.filter(contact_list_id__in=list_ids)
    if not list_ids:
        problems.append(_("The campaign has no contact list."))
    elif not members.exists():
        problems.append(_("The campaign's lists are empty."))
    version = campaign.template.current_version
    if version is None:
        problems.append(_("The template has no saved version."))
        return problems
    compiled = compiled_version(version, mailbox.signature)
    if "unsubscribe_url" not in compiled.variables:
        problems.append(
            _("The template has no unsubscribe link: add ${unsubscribe_url} to its HTML body.")
        )
    contact_ids = members.order_by("id").values_list("contact_id", flat=True)[:PREFLIGHT_SAMPLE]
    return problems + _sample_problems(campaign, compiled, list(contact_ids))


def _sample_problems(
    campaign: Campaign, compiled: CompiledTemplate, contact_ids: list[int]
) -> list[str]:
    """The template rendered for the first contacts of the lists. A contact missing a value the
    template needs (no default) is skipped with that reason when sending, as the template's help
    says; only when every contact sampled is, the campaign is surely wrong. Any other failure is
    the template's own: it stops the start."""
    from herald.contacts.models import Contact
    from herald.messaging.rendering import RenderError, render
    from herald.messaging.tasks import preview_links

    account = Account.load().variables()
    sampled, rendered, missing = 0, 0, None
    for contact in Contact.objects.filter(id__in=contact_ids).prefetch_related("addresses"):
        sampled += 1
        try:
            render(compiled, contact.variables(), account, preview_links())
        except RenderError as exc:
            if exc.variable:
                missing = missing or exc
                continue
            return [
                _("The template “%(template)s” fails for %(contact)s: %(error)s")
                % {"template": campaign.template.name, "contact": contact, "error": exc}
            ]
        rendered += 1
    if missing is not None and not rendered:
        return [
            _(
                "None of the first %(n)d contacts can get the message and all would be skipped: "
                "%(error)s. Give the variable a default (${%(variable)s|…}) or fill it in."
            )
            % {"n": sampled, "error": missing, "variable": missing.variable}
        ]
    return []


def _event(campaign: Campaign, kind: str, detail: str = "", **data: Any) -> None:
    Event.objects.create(campaign=campaign, kind=kind, detail=detail[:1000], data=data or None)


def _transition(
    actor: Actor, campaign: Campaign, status: str, action: str, reason: str = ""
) -> Campaign:
    before = {"status": campaign.status, "status_reason": campaign.status_reason}
    campaign.status, campaign.status_reason = status, reason[:500]
    campaign.updated_at = timezone.now()
    if status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        campaign.finished_at = campaign.updated_at
    campaign.save()
    after = {"status": campaign.status, "status_reason": campaign.status_reason}
    record(actor, action, campaign, diff(before, after))
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update()
        .select_related("mailbox", "template")
        .get(pk=campaign.pk)
    )


def _launch(actor: Actor, campaign: Campaign, now: dt.datetime) -> Launched:
    campaign.run += 1
    campaign.version = campaign.template.current_version
    campaign.launched_at = now
    campaign.next_run_at = None
    if campaign.warmup_since is None:
        campaign.warmup_since = now
    launched = insert_deliveries(campaign, campaign.run, now)
    _transition(actor, campaign, CampaignStatus.RUNNING, "campaign.launch")
    _event(
        campaign,
        EventKind.LAUNCHED,
        run=campaign.run,
        total=launched.total,
        queued=launched.queued,
        skipped=launched.skipped,
    )
    return launched


def next_run_at(campaign: Campaign, now: dt.datetime) -> dt.datetime | None:
    """When a scheduled campaign launches its next run (None: it does not recur)."""
    if campaign.start_mode == StartMode.AT:
        return campaign.start_at if campaign.run == 0 else None
    if campaign.start_mode == StartMode.RECURRING and campaign.recurrence:
        return windows.next_run(
            windows.recurrence_from_json(campaign.recurrence), now, account_zone()
        )
    return None


def do_start_campaign(
    actor: Actor, campaign: Campaign, *, now: dt.datetime | None = None
) -> Campaign:
    """Starts a draft: a manual one launches now, a dated or recurring one is scheduled.

    Raises ValidationError with the pre-flight problems (nothing changes then). The connection
    test runs before the transaction: it may wait on the network for a few seconds.
    """
    now = now or timezone.now()
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(
            _("Only a draft campaign can be started; this one is %(status)s.")
            % {"status": campaign.get_status_display()}
        )
    problems = preflight(campaign)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationError(_("The campaign was started meanwhile."))
        if campaign.start_mode == StartMode.MANUAL:
            _launch(actor, campaign, now)
        else:
            campaign.next_run_at = next_run_at(campaign, now)
            _transition(actor, campaign, CampaignStatus.SCHEDULED, "campaign.schedule")
    return campaign


def launch_due_campaigns(now: dt.datetime | None = None) -> int:
    """The worker's scheduler: launches every scheduled campaign whose time has come. A
    campaign whose pre-flight fails then is paused with the problems as the reason."""
    now = now or timezone.now()
    launched = 0
    due = Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED, next_run_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        campaign = Campaign.objects.select_related("mailbox", "template").get(pk=pk)
        problems = preflight(campaign)
        with transaction.atomic():
            campaign = _locked(campaign)
            if (
                campaign.status != CampaignStatus.SCHEDULED
                or not campaign.next_run_at
                or campaign.next_run_at > now
            ):
                continue  # another worker got there first
            actor = Actor.system("scheduler")
            if problems:
                _transition(
                    actor, campaign, CampaignStatus.PAUSED, "campaign.pause", "; ".join(problems)
                )
                _event(campaign, EventKind.PAUSED, "; ".join(problems))
                continue
            _launch(actor, campaign, now)
            launched += 1
    return launched


@transaction.atomic
def do_delete_campaign(actor: Actor, campaign: Campaign) -> None:
    """Deletes a draft; a campaign that was ever launched keeps its deliveries and statistics
    (cancel it instead)."""
    campaign = _locked(campaign)
    reasons = []
    if campaign.status != CampaignStatus.DRAFT or campaign.deliveries.exists():
        reasons.append(
            _("only a draft can be deleted; this one is %(status)s (cancel it instead)")
            % {"status": campaign.get_status_display()}
        )
    refuse_if(_("The campaign “%(name)s”") % {"name": campaign.name}, reasons)
    record(actor, "campaign.delete", campaign, diff(_audited(campaign), {}))
    campaign.delete()


@transaction.atomic
def do_pause_campaign(actor: Actor, campaign: Campaign, reason: str = "") -> Campaign:
    """Stops sending (messages in flight still finish); pending deliveries wait."""
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
        raise ValidationError(
            _("Only a running or scheduled campaign can be paused; this one is %(status)s.")
            % {"status": campaign.get_status_display()}
        )
    _transition(actor, campaign, CampaignStatus.PAUSED, "campaign.pause", reason)
    _event(campaign, EventKind.PAUSED, reason or _("paused by %(who)s") % {"who": actor.label})
    return campaign


@transaction.atomic
def do_resume_campaign(
    actor: Actor, campaign: Campaign, *, now: dt.datetime | None = None
) -> Campaign:
    """Continues a paused campaign where it stopped (or waits for its next run)."""
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise ValidationError(
            _("Only a paused campaign can be resumed; this one is %(status)s.")
            % {"status": campaign.get_status_display()}
        )
    pending = Delivery.objects.filter(campaign=campaign, state__in=PENDING_STATES).exists()
    if campaign.run == 0 or (not pending and campaign.start_mode != StartMode.MANUAL):
        campaign.next_run_at = next_run_at(campaign, now) or now
        _transition(actor, campaign, CampaignStatus.SCHEDULED, "campaign.resume")
    else:
        _transition(actor, campaign, CampaignStatus.RUNNING, "campaign.resume")
    _event(campaign, EventKind.RESUMED, _("resumed by %(who)s") % {"who": actor.label})
    return campaign


@transaction.atomic
def do_cancel_campaign(
    actor: Actor, campaign: Campaign, *, now: dt.datetime | None = None
) -> Campaign:
    """Ends a campaign for good: every delivery not sent yet is skipped as cancelled."""
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise ValidationError(
            _("The campaign is %(status)s already.") % {"status": campaign.get_status_display()}
        )
    pending = Delivery.objects.filter(campaign=campaign, state__in=PENDING_STATES)
    ids = list(pending.values_list("id", flat=True))
    pending.update(state=DeliveryState.SKIPPED, reason="cancelled", due_at=None)
    Event.objects.bulk_create(
        [
            Event(
                campaign=campaign, delivery_id=i, kind=EventKind.SKIPPED, at=now, detail="cancelled"
            )
            for i in ids
        ],
        batch_size=5000,
    )
    _transition(actor, campaign, CampaignStatus.CANCELLED, "campaign.cancel")
    _event(
        campaign,
        EventKind.CANCELLED,
        _("cancelled by %(who)s") % {"who": actor.label},
        skipped=len(ids),
    )
    return campaign


def complete_if_done(campaign_id: int, now: dt.datetime | None = None) -> bool:
    """Completes a running campaign once every delivery of it has a final state (a recurring
    one goes back to scheduled for its next run). True when it did."""
    now = now or timezone.now()
    if Delivery.objects.filter(campaign_id=campaign_id, state__in=PENDING_STATES).exists():
        return False
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.RUNNING:
            return False
        # Checked again under the lock: a resend could have been queued meanwhile.
        if Delivery.objects.filter(campaign_id=campaign_id, state__in=PENDING_STATES).exists():
            return False
        actor = Actor.system("dialer")
        upcoming = (
            next_run_at(campaign, now) if campaign.start_mode == StartMode.RECURRING else None
        )
        _event(campaign, EventKind.COMPLETED, run=campaign.run)
        if upcoming is not None:
            campaign.next_run_at = upcoming
            _transition(actor, campaign, CampaignStatus.SCHEDULED, "campaign.complete_run")
        else:
            _transition(actor, campaign, CampaignStatus.COMPLETED, "campaign.complete")
    return True


def auto_pause(campaign_id: int, reason: str) -> bool:
    """Pauses a running campaign on the dialer's own decision (too many failures)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.RUNNING:
            return False
        _transition(
            Actor.system("dialer"), campaign, CampaignStatus.PAUSED, "campaign.auto_pause", reason
        )
        _event(campaign, EventKind.PAUSED, reason, automatic=True)
    return True


def apply_status_map(campaign: Campaign, outcome: str, contact_ids: Iterable[int]) -> int:
    """Sets the list-member status the campaign maps ``outcome`` to, for these contacts in the
    campaign's lists. Returns the rows changed (0 when the outcome is not mapped)."""
    label = (campaign.status_map or {}).get(outcome)
    ids = list(contact_ids)
    if not label or not ids:
        return 0
    list_ids = list(campaign.lists.values_list("id", flat=True))
    return ListMember.objects.filter(
        Q(contact_list_id__in=list_ids) & Q(contact_id__in=ids)
    ).update(status=label)


def _copy_name(name: str) -> str:
    """ "Spring offer (copy)", then "(copy 2)", ... : a name no campaign has yet."""
    for n in range(1, 1000):
        suffix = _(" (copy)") if n == 1 else _(" (copy %(n)d)") % {"n": n}
        candidate = name[: 200 - len(suffix)] + suffix
        if not Campaign.objects.filter(name=candidate).exists():
            return candidate
    raise ValidationError({"name": _("Too many copies of this campaign: rename some.")})


@transaction.atomic
def do_duplicate_campaign(actor: Actor, campaign: Campaign) -> Campaign:
    """A new draft with the campaign's settings and lists: template (its current version when
    launched), mailbox, subject, schedule, windows, pacing, tracking. A start time already past
    is dropped (the copy starts when someone starts it)."""
    fields = {name: getattr(campaign, name) for name in EDITABLE_FIELDS if name != "name"}
    if campaign.start_mode == StartMode.AT and (
        campaign.start_at is None or campaign.start_at <= timezone.now()
    ):
        fields.update(start_mode=StartMode.MANUAL, start_at=None)
    copy = do_save_campaign(
        actor, None, lists=list(campaign.lists.all()), name=_copy_name(campaign.name), **fields
    )
    record(actor, "campaign.duplicate", copy, {"copied_from": [None, campaign.name]})
    return copy

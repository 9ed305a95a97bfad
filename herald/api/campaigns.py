"""API: campaigns (list, get with progress, create, change, start, pause, resume, cancel,
progress). Send windows and the recurrence are sent as text, like on the page
("Mon-Fri 13:00-18:00", "Mon 09:00"), or as the JSON the responses carry. A start refused by
the pre-flight check answers 422 with the list of problems."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status

from herald.api import auth
from herald.api.schemas import Input, InUseOut
from herald.audit.actors import Actor
from herald.campaigns import actions, queries
from herald.campaigns.actions import EDITABLE_FIELDS
from herald.campaigns.forms import (
    recurrence_from_text,
    recurrence_text,
    windows_from_text,
    windows_text,
)
from herald.campaigns.models import Campaign
from herald.contacts.models import ContactList
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template

router = Router(tags=["campaigns"])


class CampaignIn(Input):
    name: str | None = None
    mailbox_id: int | None = None
    template_id: int | None = None
    list_ids: list[int] | None = None
    addresses: Literal["first", "first_valid", "all"] | None = None
    subject: str | None = None
    bcc: str | None = None
    status_map: dict[str, str] | None = None
    enabled: bool | None = None
    start_mode: Literal["manual", "at", "recurring"] | None = None
    start_at: dt.datetime | None = None
    recurrence: str | dict[str, Any] | None = None
    windows: str | list[dict[str, Any]] | None = None
    window_zone: Literal["account", "contact"] | None = None
    rate_count: int | None = None
    rate_unit: Literal["second", "minute", "hour"] | None = None
    wait_seconds: float | None = None
    daily_cap: int | None = None
    warmup_per_hour: int | None = None
    warmup_growth_percent: float | None = None
    pace_by_agents_of_id: int | None = None
    failure_percent: int | None = None
    failure_window: int | None = None
    max_retry_hours: int | None = None
    track_opens: bool | None = None
    track_clicks: bool | None = None
    optout_template_id: int | None = None
    thank_you_text: str | None = None


class PauseIn(Input):
    reason: str = ""


# Fields that may be sent as null to remove them (the others are left out to keep them).
NULLABLE = {
    "start_at",
    "recurrence",
    "rate_count",
    "wait_seconds",
    "daily_cap",
    "warmup_per_hour",
    "optout_template_id",
    "pace_by_agents_of_id",
}
# Relations: given by id in the API.
RELATED = {
    "mailbox": Mailbox,
    "template": Template,
    "optout_template": Template,
    "pace_by_agents_of": Mailbox,
}


def _out(campaign: Campaign, *, with_progress: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {"id": campaign.pk}
    for name in EDITABLE_FIELDS:
        if name in RELATED:
            values[f"{name}_id"] = getattr(campaign, f"{name}_id")
        else:
            values[name] = getattr(campaign, name)
    values.update(
        list_ids=sorted(campaign.lists.values_list("id", flat=True)),
        windows_text=windows_text(campaign.windows),
        recurrence_text=recurrence_text(campaign.recurrence),
        status=campaign.status,
        status_reason=campaign.status_reason,
        run=campaign.run,
        next_run_at=campaign.next_run_at,
        launched_at=campaign.launched_at,
        finished_at=campaign.finished_at,
        created_at=campaign.created_at,
    )
    if with_progress:
        values["progress"] = queries.summary(campaign, timezone.now())
    return values


def _text_or_json(data: dict[str, Any]) -> None:
    """Windows and recurrence given as text become their JSON (a ValueError names the field)."""
    try:
        if isinstance(data.get("windows"), str):
            data["windows"] = windows_from_text(data["windows"])
    except ValueError as exc:
        raise ValidationError({"windows": [str(exc)]}) from None
    try:
        if isinstance(data.get("recurrence"), str):
            data["recurrence"] = recurrence_from_text(data["recurrence"])
    except ValueError as exc:
        raise ValidationError({"recurrence": [str(exc)]}) from None


def _save(request: HttpRequest, campaign: Campaign | None, payload: CampaignIn) -> Campaign:
    data = payload.dict(exclude_unset=True)
    _text_or_json(data)
    fields = {
        name: data[name]
        for name in EDITABLE_FIELDS
        if name in data and (data[name] is not None or name in NULLABLE)
    }
    for name, model in RELATED.items():
        key = f"{name}_id"
        if data.get(key) is not None:
            found = model._default_manager.filter(pk=data[key]).first()
            if found is None:
                raise ValidationError({key: [f"no {model._meta.verbose_name} with id {data[key]}"]})
            fields[name] = found
        elif key in data and key in NULLABLE:
            fields[name] = None
    lists = None
    if data.get("list_ids") is not None:
        lists = list(ContactList.objects.filter(pk__in=data["list_ids"]))
        missing = set(data["list_ids"]) - {contact_list.pk for contact_list in lists}
        if missing:
            raise ValidationError(
                {"list_ids": [f"no contact list with id {', '.join(map(str, sorted(missing)))}"]}
            )
    if campaign is None:
        needed = [name for name in ("name", "mailbox_id", "template_id") if data.get(name) is None]
        if needed:
            raise ValidationError({name: ["This field is required."] for name in needed})
    return actions.do_save_campaign(Actor.for_request(request), campaign, lists=lists, **fields)


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("mailbox", "template"), pk=campaign_id)


@router.get("/campaigns", auth=auth.MANAGER)
def list_campaigns(request: HttpRequest) -> list[dict]:
    return [_out(c) for c in Campaign.objects.select_related("mailbox", "template")]


@router.post("/campaigns", auth=auth.MANAGER, response={201: dict})
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status[dict]:
    """Creates a draft: ``name``, ``mailbox_id`` and ``template_id`` are required."""
    return Status(201, _out(_save(request, None, payload)))


@router.get("/campaigns/{campaign_id}", auth=auth.MANAGER)
def get_campaign(request: HttpRequest, campaign_id: int) -> dict:
    return _out(_campaign(campaign_id), with_progress=True)


@router.delete("/campaigns/{campaign_id}", response={204: None, 409: InUseOut}, auth=auth.MANAGER)
def delete_campaign(request: HttpRequest, campaign_id: int) -> Status[None]:
    """Deletes a draft campaign. Refused (409) once it was launched: cancel it instead."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    actions.do_delete_campaign(Actor.for_request(request), campaign)
    return Status(204, None)


@router.patch("/campaigns/{campaign_id}", auth=auth.MANAGER)
def change_campaign(request: HttpRequest, campaign_id: int, payload: CampaignIn) -> dict:
    """Changes the fields sent; a finished campaign cannot change any more (422)."""
    return _out(_save(request, _campaign(campaign_id), payload))


@router.get("/campaigns/{campaign_id}/progress", auth=auth.MANAGER)
def campaign_progress(request: HttpRequest, campaign_id: int) -> dict:
    """Status, counts by state (with ``total`` and ``to_send``), skip reasons, expected end."""
    return queries.summary(_campaign(campaign_id), timezone.now())


@router.post("/campaigns/{campaign_id}/duplicate", auth=auth.MANAGER, response={201: dict})
def duplicate_campaign(request: HttpRequest, campaign_id: int) -> Status[dict]:
    """A new draft with the campaign's settings and lists, named "… (copy)"."""
    copy = actions.do_duplicate_campaign(Actor.for_request(request), _campaign(campaign_id))
    return Status(201, _out(copy))


@router.post("/campaigns/{campaign_id}/start", auth=auth.MANAGER)
def start_campaign(request: HttpRequest, campaign_id: int) -> dict:
    """Runs the pre-flight check, then launches (manual start) or schedules the campaign.
    Refused: 422 with ``detail`` the list of problems."""
    started = actions.do_start_campaign(Actor.for_request(request), _campaign(campaign_id))
    return _out(started, with_progress=True)


@router.post("/campaigns/{campaign_id}/pause", auth=auth.MANAGER)
def pause_campaign(request: HttpRequest, campaign_id: int, payload: PauseIn | None = None) -> dict:
    reason = payload.reason if payload is not None else ""
    paused = actions.do_pause_campaign(Actor.for_request(request), _campaign(campaign_id), reason)
    return _out(paused, with_progress=True)


@router.post("/campaigns/{campaign_id}/resume", auth=auth.MANAGER)
def resume_campaign(request: HttpRequest, campaign_id: int) -> dict:
    resumed = actions.do_resume_campaign(Actor.for_request(request), _campaign(campaign_id))
    return _out(resumed, with_progress=True)


@router.post("/campaigns/{campaign_id}/cancel", auth=auth.MANAGER)
def cancel_campaign(request: HttpRequest, campaign_id: int) -> dict:
    """Ends the campaign for good: every delivery not sent yet is skipped as cancelled."""
    cancelled = actions.do_cancel_campaign(Actor.for_request(request), _campaign(campaign_id))
    return _out(cancelled, with_progress=True)

"""API: call dispositions from the voice platform, the rules that map codes to emails, and the
counts per code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from herald.api import auth
from herald.api.schemas import Input
from herald.audit.actors import Actor
from herald.dispositions import actions, queries
from herald.dispositions.models import (
    MAX_DELAY_MINUTES,
    Disposition,
    DispositionRule,
    DispositionState,
)
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template

router = Router(tags=["dispositions"])
MAX_PAGE = 1000

Variable = str | int | float | bool | None


class DispositionIn(Input):
    call_id: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=64)
    external_id: str = Field("", max_length=200, description="the contact's id in your CRM")
    email: str = Field("", max_length=320, description="the caller's address")
    agent: str = Field("", max_length=200)
    time: datetime | None = Field(None, description="when the call ended; default: now")
    variables: dict[str, Variable] = Field(
        default_factory=dict, description="extra template variables (at most 50)"
    )


class DispositionOut(Schema):
    id: int
    call_id: str
    code: str
    contact_id: int
    email: str
    agent: str
    time: datetime
    source: str
    state: DispositionState
    reason: str
    due_at: datetime | None
    sent_at: datetime | None
    attempts: int
    variables: dict[str, Any]


class RuleIn(Input):
    code: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=200)
    template_id: int | None = None
    mailbox_id: int | None = None
    delay_minutes: int | None = Field(None, ge=0, le=MAX_DELAY_MINUTES)
    windows: str | None = Field(
        None, max_length=1000, description='e.g. "Mon-Fri 09:00-18:00"; "" for any time'
    )
    active: bool | None = None


class RuleOut(Schema):
    id: int
    code: str
    description: str
    template_id: int
    mailbox_id: int
    delay_minutes: int
    windows: str
    active: bool


class CodeCountsOut(Schema):
    code: str
    calls: int
    sent: int
    waiting: int
    skipped: int
    failed: int
    no_rule: int


def _out(row: Disposition) -> dict[str, Any]:
    return {
        "id": row.pk,
        "call_id": row.call_id,
        "code": row.code,
        "contact_id": row.contact_id,
        "email": row.email,
        "agent": row.agent,
        "time": row.called_at,
        "source": row.source,
        "state": row.state,
        "reason": row.reason,
        "due_at": row.due_at,
        "sent_at": row.sent_at,
        "attempts": row.attempts,
        "variables": row.variables,
    }


def _rule_out(rule: DispositionRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "code": rule.code,
        "description": rule.description,
        "template_id": rule.template_id,
        "mailbox_id": rule.mailbox_id,
        "delay_minutes": rule.delay_minutes,
        "windows": actions.windows_text(rule),
        "active": rule.active,
    }


@router.post("/dispositions", response={200: DispositionOut, 201: DispositionOut}, auth=auth.AGENT)
def report_disposition(request: HttpRequest, payload: DispositionIn) -> Status[dict[str, Any]]:
    """Reports a call's disposition. The contact is found by `external_id`, else by `email`
    (a caller Herald does not know, given with an address, becomes a contact). When the code
    has a rule, its template goes to the caller after the rule's delay, inside its windows,
    unless the address is suppressed then. Once per `call_id`: reporting the same call again
    answers 200 with the first record and sends nothing more (201 the first time)."""
    actor = Actor.for_request(request)
    with transaction.atomic():
        known = Disposition.objects.filter(call_id=payload.call_id.strip()).first()
        if known is not None:
            return Status(200, _out(known))
        contact, email = actions.find_contact(
            actor, external_id=payload.external_id, email=payload.email
        )
        row, created = actions.do_record_disposition(
            actor,
            actions.Call(
                call_id=payload.call_id,
                code=payload.code,
                agent=payload.agent,
                called_at=payload.time,
                variables=payload.variables,
            ),
            contact,
            email,
        )
    return Status(201 if created else 200, _out(row))


class DispositionFilter(Schema):
    code: str = ""
    contact_id: int | None = None
    after: int = 0  # the last id of the previous page
    limit: int = 100


@router.get("/dispositions", response=list[DispositionOut], auth=auth.MANAGER)
def list_dispositions(
    request: HttpRequest, filters: Query[DispositionFilter]
) -> list[dict[str, Any]]:
    """Reported calls in id order, a page after `after`, filtered by code or contact."""
    rows = Disposition.objects.filter(pk__gt=filters.after).order_by("id")
    if filters.code:
        rows = rows.filter(code=filters.code.strip().upper()[:64])
    if filters.contact_id is not None:
        rows = rows.filter(contact_id=filters.contact_id)
    return [_out(r) for r in rows[: max(1, min(filters.limit, MAX_PAGE))]]


@router.get("/dispositions/{disposition_id}", response=DispositionOut, auth=auth.MANAGER)
def get_disposition(request: HttpRequest, disposition_id: int) -> dict[str, Any]:
    return _out(get_object_or_404(Disposition, pk=disposition_id))


@router.get("/disposition-statistics", response=list[CodeCountsOut], auth=auth.MANAGER)
def disposition_statistics(
    request: HttpRequest, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Per code, the calls reported in [since, until) and where their emails stand."""
    return [
        {
            "code": c.code,
            "calls": c.calls,
            "sent": c.sent,
            "waiting": c.waiting,
            "skipped": c.skipped,
            "failed": c.failed,
            "no_rule": c.no_rule,
        }
        for c in queries.counts_per_code(since, until)
    ]


def _rule_fields(payload: RuleIn) -> dict[str, Any]:
    fields = payload.dict(exclude_none=True)
    if "template_id" in fields:
        fields["template"] = get_object_or_404(Template, pk=fields.pop("template_id"))
    if "mailbox_id" in fields:
        fields["mailbox"] = get_object_or_404(Mailbox, pk=fields.pop("mailbox_id"))
    if "windows" in fields:
        fields["windows"] = actions.windows_from_text(fields["windows"])
    return fields


@router.get("/disposition-rules", response=list[RuleOut], auth=auth.MANAGER)
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    return [_rule_out(r) for r in DispositionRule.objects.all()]


@router.post("/disposition-rules", response={201: RuleOut}, auth=auth.MANAGER)
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[dict[str, Any]]:
    """Maps a code to a template and a mailbox (both required), with a delay and windows."""
    rule = actions.do_save_rule(Actor.for_request(request), None, **_rule_fields(payload))
    return Status(201, _rule_out(rule))


@router.patch("/disposition-rules/{rule_id}", response=RuleOut, auth=auth.MANAGER)
def change_rule(request: HttpRequest, rule_id: int, payload: RuleIn) -> dict[str, Any]:
    rule = get_object_or_404(DispositionRule, pk=rule_id)
    return _rule_out(
        actions.do_save_rule(Actor.for_request(request), rule, **_rule_fields(payload))
    )


@router.delete("/disposition-rules/{rule_id}", response={204: None}, auth=auth.MANAGER)
def delete_rule(request: HttpRequest, rule_id: int) -> Status[None]:
    rule = get_object_or_404(DispositionRule, pk=rule_id)
    actions.do_delete_rule(Actor.for_request(request), rule)
    return Status(204, None)

"""Disposition rules as managers keep them, and recording a call's disposition (from the API
or from the desk's wrap-up), which schedules its email.

Recording is idempotent by call id: the same call reported twice returns the first record and
sends nothing more. The email's time is fixed when the call is recorded: the call time plus the
rule's delay, moved to the next opening of the rule's windows (in the account's time zone); the
worker checks the window again when it sends, in case the rule changed meanwhile.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor
from herald.campaigns import forms, windows
from herald.campaigns.actions import account_zone
from herald.contacts import addresses
from herald.contacts.actions import set_addresses
from herald.contacts.models import Address, Contact
from herald.dispositions.models import (
    MAX_DELAY_MINUTES,
    Disposition,
    DispositionRule,
    DispositionSource,
    DispositionState,
)

CODE = re.compile(r"[A-Z0-9][A-Z0-9_.:-]{0,63}")
RULE_FIELDS = ["code", "description", "template", "mailbox", "delay_minutes", "windows", "active"]
MAX_VARIABLES = 50
MAX_VARIABLE_NAME = 64
MAX_VARIABLE_VALUE = 2000
# Names the call itself sets: given as extra variables they would be ambiguous.
CALL_VARIABLES = ("disposition_code", "call_id", "call_agent", "call_time")


def clean_code(code: str) -> str:
    """A code as stored: trimmed and upper case; refused unless letters, digits and ``_.:-``."""
    cleaned = code.strip().upper()
    if not CODE.fullmatch(cleaned):
        raise ValidationError(
            {"code": _("A code of letters, digits and _ . : - (at most 64), e.g. SALE_CONFIRMED.")}
        )
    return cleaned


def _clean_rule(rule: DispositionRule) -> None:
    errors: dict[str, list[str]] = {}
    try:
        rule.code = clean_code(rule.code)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not 0 <= rule.delay_minutes <= MAX_DELAY_MINUTES:
        errors["delay_minutes"] = [
            _("From 0 to %(n)d minutes (30 days).") % {"n": MAX_DELAY_MINUTES}
        ]
    if rule.template_id is not None and rule.template.current_version_id is None:
        errors["template"] = [_("This template has no saved version yet.")]
    try:
        windows.from_json(rule.windows)
    except ValueError as exc:
        errors["windows"] = [str(exc)]
    clash = DispositionRule.objects.filter(code=rule.code).exclude(pk=rule.pk)
    if rule.code and clash.exists():
        errors["code"] = [_("Another rule has this code.")]
    if errors:
        raise ValidationError(errors)


def windows_from_text(text: str) -> list[dict[str, Any]]:
    """The JSON of send windows written as text ("Mon-Fri 09:00-18:00"); empty: any time."""
    if not text.strip():
        return []
    try:
        return forms.windows_from_text(text)
    except ValueError as exc:
        raise ValidationError({"windows": [str(exc)]}) from None


def windows_text(rule: DispositionRule) -> str:
    return forms.windows_text(rule.windows)


def _state(rule: DispositionRule) -> dict[str, Any]:
    state = snapshot(rule, RULE_FIELDS)
    state["windows"] = windows_text(rule)
    return state


@transaction.atomic
def do_save_rule(actor: Actor, rule: DispositionRule | None, **fields: Any) -> DispositionRule:
    """Creates (``rule`` None) or changes a rule: ``code``, ``description``, ``template``,
    ``mailbox``, ``delay_minutes``, ``windows`` (JSON, see ``windows_from_text``), ``active``."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"cannot set {', '.join(sorted(unknown))} on a rule")
    creating = rule is None
    if rule is None:
        missing = [f for f in ("code", "template", "mailbox") if fields.get(f) in (None, "")]
        if missing:
            raise ValidationError({f: [_("This field is required.")] for f in missing})
        rule = DispositionRule()
        before: dict[str, Any] = {}
    else:
        rule = DispositionRule.objects.select_for_update().get(pk=rule.pk)
        before = _state(rule)
    for name, value in fields.items():
        setattr(rule, name, value)
    _clean_rule(rule)
    rule.save()
    changes = diff(before, _state(rule))
    if changes:
        record(
            actor,
            "disposition_rule.create" if creating else "disposition_rule.change",
            rule,
            changes,
        )
    return rule


@transaction.atomic
def do_delete_rule(actor: Actor, rule: DispositionRule) -> None:
    """Deletes a rule; calls already recorded keep their code, and their emails not sent yet
    are not sent (the worker finds no rule)."""
    record(actor, "disposition_rule.delete", rule, diff(_state(rule), {}))
    rule.delete()


def rules_using(*, template: Any = None, mailbox: Any = None) -> list[str]:
    """Why a template or mailbox cannot be deleted: the rules that send with it."""
    rules = DispositionRule.objects.all()
    rules = (
        rules.filter(template=template) if template is not None else rules.filter(mailbox=mailbox)
    )
    return [_("disposition code %(code)s sends with it") % {"code": r.code} for r in rules[:10]]


# -- recording a call --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A call's disposition as the voice platform (or the desk) reports it."""

    call_id: str
    code: str
    agent: str = ""
    called_at: dt.datetime | None = None
    variables: dict[str, Any] | None = None


def clean_variables(variables: dict[str, Any] | None) -> dict[str, Any]:
    """Extra template variables: at most 50 names of letters, digits and _, with short values."""
    variables = dict(variables or {})
    if len(variables) > MAX_VARIABLES:
        raise ValidationError({"variables": [_("At most %(n)d variables.") % {"n": MAX_VARIABLES}]})
    cleaned: dict[str, Any] = {}
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or len(name) > MAX_VARIABLE_NAME:
            raise ValidationError(
                {"variables": [_("%(name)r: a name of letters, digits and _.") % {"name": name}]}
            )
        if name in CALL_VARIABLES:
            raise ValidationError(
                {"variables": [_("%(name)s is set by the call itself.") % {"name": name}]}
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValidationError(
                {"variables": [_("%(name)s: a text or a number.") % {"name": name}]}
            )
        if isinstance(value, str) and len(value) > MAX_VARIABLE_VALUE:
            raise ValidationError(
                {
                    "variables": [
                        _("%(name)s: at most %(n)d characters.")
                        % {"name": name, "n": MAX_VARIABLE_VALUE}
                    ]
                }
            )
        cleaned[name] = value
    return cleaned


def find_contact(actor: Actor, *, external_id: str = "", email: str = "") -> tuple[Contact, str]:
    """The contact a call is about, and the address its email goes to.

    By external id first, else by address; a caller Herald does not know yet, given with an
    address, becomes a new contact (with the external id when one was given). The address is
    the one given, else the contact's first valid one ("" when it has none: the email is then
    skipped, and the call still recorded)."""
    external_id, email = external_id.strip(), email.strip()
    normalized = ""
    if email:
        normalized, error = addresses.validate(email)
        if error:
            raise ValidationError({"email": [f"{email}: {error}"]})
    contact = None
    if external_id:
        contact = Contact.objects.filter(external_id=external_id, erased_at__isnull=True).first()
    if contact is None and normalized:
        address = (
            Address.objects.filter(email_key=normalized.lower(), contact__erased_at__isnull=True)
            .select_related("contact")
            .order_by("contact_id")
            .first()
        )
        contact = address.contact if address else None
    if contact is None:
        if not normalized:
            raise ValidationError(
                {
                    "contact": [
                        _("No contact has this external id: give the caller's email address too.")
                    ]
                }
            )
        contact = Contact.objects.create(external_id=external_id or None)
        set_addresses(contact, [normalized])
        record(
            actor,
            "contact.create",
            contact,
            {"emails": [None, [normalized]], "source": [None, "disposition"]},
        )
    if not normalized:
        normalized = contact.variables().get("email", "") or ""  # type: ignore[assignment]
    return contact, str(normalized)


def due_time(rule: DispositionRule, called_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the rule's email goes: the call time plus the delay (not before now), at the next
    opening of its windows."""
    at = max(called_at + dt.timedelta(minutes=rule.delay_minutes), now)
    schedule = windows.from_json(rule.windows)
    if windows.always_open(schedule):
        return at
    return windows.next_open(schedule, at, account_zone())


@transaction.atomic
def do_record_disposition(
    actor: Actor,
    call: Call,
    contact: Contact,
    email: str,
    *,
    source: str = DispositionSource.API,
    conversation: Any = None,
) -> tuple[Disposition, bool]:
    """Records the call (once per call id) and schedules its email when its code has an active
    rule; returns the record and whether it is new. Suppression is checked when the email goes,
    so an opt-out between the call and the send holds."""
    call_id = call.call_id.strip()
    if not call_id or len(call_id) > 200:
        raise ValidationError({"call_id": [_("A call id of 1 to 200 characters.")]})
    existing = Disposition.objects.filter(call_id=call_id).first()
    if existing is not None:
        return existing, False
    code = clean_code(call.code)
    now = timezone.now()
    called_at = call.called_at or now
    if timezone.is_naive(called_at):
        raise ValidationError(
            {"time": [_("Give the call time with its time zone (e.g. Z or +01:00).")]}
        )
    rule = DispositionRule.objects.filter(code=code).select_related("template").first()
    row = Disposition(
        call_id=call_id,
        code=code,
        rule=rule,
        contact=contact,
        email=email,
        agent=call.agent.strip()[:200],
        called_at=called_at,
        variables=clean_variables(call.variables),
        source=source,
        conversation=conversation,
        created_at=now,
    )
    if rule is None:
        row.state = DispositionState.NO_RULE
    elif not rule.active:
        row.state, row.reason = DispositionState.SKIPPED, _("the rule for this code is off")
    elif not email:
        row.state, row.reason = DispositionState.SKIPPED, _("the contact has no valid address")
    else:
        row.state, row.due_at = DispositionState.WAITING, due_time(rule, called_at, now)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same call id, recorded meanwhile by a concurrent request
        return Disposition.objects.get(call_id=call_id), False
    return row, True  # not audited: calls are the business's events, not configuration

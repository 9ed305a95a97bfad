"""API: mailboxes (list, create, change, enable/disable, test connection). Secrets are write-only:
sent to set them, never returned; ``*_set`` says whether one is stored."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from herald.api import auth
from herald.api.schemas import Input, InUseOut
from herald.audit.actors import Actor
from herald.mailboxes import actions, connection
from herald.mailboxes.actions import EDITABLE_FIELDS
from herald.mailboxes.models import SECRET_FIELDS, Mailbox
from herald.messaging.models import Signature, Template

router = Router(tags=["mailboxes"])

Security = Literal["none", "starttls", "tls"]
FOREIGN_KEYS = ("signature", "ack_template", "optout_template")  # given and returned as *_id
# Limits that null removes; the other fields change only when given a value.
NULLABLE = ("max_per_second", "max_per_hour", "max_per_day", "max_outbound_open", "agent_capacity")


class MailboxIn(Input):
    name: str | None = None
    from_address: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    return_path: str | None = None
    bcc: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Security | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    login_with: Literal["password", "microsoft", "google", "oauth"] | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    oauth_tenant: str | None = None
    oauth_issuer: str | None = None
    oauth_scopes: str | None = None
    receive_enabled: bool | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: Security | None = None
    imap_username: str | None = None
    imap_password: str | None = None
    imap_folder: str | None = None
    imap_poll_seconds: int | None = None
    imap_move_to: str | None = None
    ack_template_id: int | None = None
    optout_template_id: int | None = None
    max_per_second: int | None = None
    max_per_hour: int | None = None
    max_per_day: int | None = None
    max_connections: int | None = None
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key: str | None = None
    dkim_generate: Literal["rsa", "ed25519"] | None = None
    signature_id: int | None = None
    enabled: bool | None = None
    desk_mode: Literal["assignment", "open"] | None = None
    wrapup_required: bool | None = None
    max_outbound_open: int | None = None
    auto_assign: bool | None = None
    agent_capacity: int | None = None
    offline_grace_seconds: int | None = None
    rest_seconds: int | None = None
    return_to_last_agent: bool | None = None
    service_level_percent: int | None = None
    service_level_seconds: int | None = None
    wait_warning_seconds: int | None = None
    wait_critical_seconds: int | None = None
    clear: list[
        Literal["smtp_password", "imap_password", "dkim_private_key", "oauth_client_secret"]
    ] = []


class EnabledIn(Input):
    enabled: bool


def _out(mailbox: Mailbox) -> dict[str, Any]:
    values: dict[str, Any] = {"id": mailbox.pk, "is_sandbox": mailbox.is_sandbox}
    for name in EDITABLE_FIELDS:
        if name not in FOREIGN_KEYS:
            values[name] = getattr(mailbox, name)
    for name in FOREIGN_KEYS:
        values[f"{name}_id"] = getattr(mailbox, f"{name}_id")
    values["dkim_key_type"] = mailbox.dkim_key_type or None
    values["dkim_dns_record"] = mailbox.dkim_dns_record or None
    for name in SECRET_FIELDS:
        values[f"{name}_set"] = mailbox.has_secret(name)
    values["unreadable_secrets"] = mailbox.unreadable_secrets()
    values["oauth_signed_in_as"] = mailbox.oauth_account if mailbox.uses_oauth else None
    values["oauth_error"] = mailbox.oauth_error or None
    return values


def _save(request: HttpRequest, mailbox: Mailbox | None, payload: MailboxIn) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    # Nullable numbers may be sent as null to remove a limit; the rest only when given.
    fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    fields = {k: v for k, v in fields.items() if v is not None or k in NULLABLE}
    if "signature_id" in data:
        sid = data["signature_id"]
        fields["signature"] = get_object_or_404(Signature, pk=sid) if sid is not None else None
    for name in ("ack_template", "optout_template"):
        if f"{name}_id" in data:
            tid = data[f"{name}_id"]
            fields[name] = get_object_or_404(Template, pk=tid) if tid is not None else None
    saved = actions.do_save_mailbox(
        Actor.for_request(request),
        mailbox,
        fields,
        secrets={name: data[name] for name in SECRET_FIELDS if data.get(name)},
        clear=data.get("clear") or [],
        dkim_generate=data.get("dkim_generate"),
    )
    return _out(saved)


@router.get("/mailboxes", auth=auth.MANAGER)
def list_mailboxes(request: HttpRequest) -> list[dict]:
    return [_out(m) for m in Mailbox.objects.all()]


@router.post("/mailboxes", auth=auth.MANAGER, response={201: dict})
def create_mailbox(request: HttpRequest, payload: MailboxIn) -> Status[dict]:
    return Status(201, _save(request, None, payload))


@router.get("/mailboxes/{mailbox_id}", auth=auth.MANAGER)
def get_mailbox(request: HttpRequest, mailbox_id: int) -> dict:
    return _out(get_object_or_404(Mailbox, pk=mailbox_id))


@router.delete("/mailboxes/{mailbox_id}", response={204: None, 409: InUseOut}, auth=auth.MANAGER)
def delete_mailbox(request: HttpRequest, mailbox_id: int) -> Status[None]:
    """Deletes the mailbox. Refused (409, with the reasons) while campaigns send through it,
    conversations or received mail belong to it, or Herald's own mail goes through it."""
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    actions.do_delete_mailbox(Actor.for_request(request), mailbox)
    return Status(204, None)


@router.patch("/mailboxes/{mailbox_id}", auth=auth.MANAGER)
def change_mailbox(request: HttpRequest, mailbox_id: int, payload: MailboxIn) -> dict:
    """Changes the fields sent; a secret left out (or empty) keeps its stored value."""
    return _save(request, get_object_or_404(Mailbox, pk=mailbox_id), payload)


@router.post("/mailboxes/{mailbox_id}/enabled", auth=auth.MANAGER)
def set_mailbox_enabled(request: HttpRequest, mailbox_id: int, payload: EnabledIn) -> dict:
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    return _out(
        actions.do_set_mailbox_enabled(Actor.for_request(request), mailbox, payload.enabled)
    )


@router.post("/mailboxes/{mailbox_id}/test", auth=auth.MANAGER)
def test_mailbox_connection(request: HttpRequest, mailbox_id: int) -> dict:
    """Checks SMTP and IMAP now (10 s at most each): ``ok`` is true when none failed."""
    results = connection.check_mailbox(get_object_or_404(Mailbox, pk=mailbox_id))
    return {
        "ok": all(r.state != "failed" for r in results),
        "checks": [r.as_dict() for r in results],
    }

"""Mail in the API: the sandbox's messages (as its page shows them), and inbound mail (managers):
every received message with what processing decided, its raw text, and the quarantine with
"process again"."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from herald.api import auth
from herald.api.schemas import Error
from herald.audit.actors import Actor
from herald.inbound import actions
from herald.inbound.models import InboundMessage, InboundStatus
from herald.mailboxes.models import SandboxMessage

router = Router(tags=["mail"])
PAGE = 100


class PageFilter(Schema):
    before: int = 0  # the last id of the previous page; 0: the newest
    q: str = ""


class SandboxMessageOut(Schema):
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    from_header: str
    to_header: str
    message_id: str


@router.get("/sandbox/messages", response=list[SandboxMessageOut], auth=auth.AGENT)
def sandbox_messages(request: HttpRequest, filters: Query[PageFilter]) -> list[SandboxMessage]:
    """What the sandbox mailbox kept, newest first; ``q`` searches the To and the subject."""
    rows = SandboxMessage.objects.defer("raw").order_by("-id")
    if filters.before > 0:
        rows = rows.filter(pk__lt=filters.before)
    if filters.q.strip():
        query = filters.q.strip()[:200]
        rows = rows.filter(to_header__icontains=query) | rows.filter(subject__icontains=query)
    return list(rows[:PAGE])


RAW = {
    "responses": {
        200: {
            "description": "The message as it came (RFC 5322).",
            "content": {"message/rfc822": {"schema": {"type": "string"}}},
        }
    }
}


@router.get(
    "/sandbox/messages/{message_id}/raw", response={200: None}, auth=auth.AGENT, openapi_extra=RAW
)
def sandbox_raw(request: HttpRequest, message_id: int) -> HttpResponse:
    """The message as it was received (RFC 5322, ``message/rfc822``)."""
    row = get_object_or_404(SandboxMessage, pk=message_id)
    return HttpResponse(bytes(row.raw), content_type="message/rfc822")


class InboundOut(Schema):
    id: int
    mailbox_id: int
    folder: str
    received_at: datetime
    size: int
    from_address: str
    subject: str
    status: InboundStatus
    kind: str
    reason: str
    delivery_id: int | None
    error: str


class InboundFilter(Schema):
    before: int = 0  # the last id of the previous page; 0: the newest
    mailbox_id: int | None = None
    status: InboundStatus | None = None
    kind: str = ""  # bounce, complaint, autoreply, optout, reply, new


@router.get("/inbound", response=list[InboundOut], auth=auth.MANAGER)
def inbound(request: HttpRequest, filters: Query[InboundFilter]) -> list[InboundMessage]:
    """Received mail, newest first, with what processing decided (kind, reason, the delivery it
    answers or reports on), filtered by mailbox, status or kind."""
    rows = InboundMessage.objects.defer("raw")
    if filters.before > 0:
        rows = rows.filter(pk__lt=filters.before)
    if filters.mailbox_id is not None:
        rows = rows.filter(mailbox_id=filters.mailbox_id)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.kind:
        rows = rows.filter(kind=filters.kind[:12])
    return list(rows.order_by("-id")[:PAGE])


@router.get("/inbound/{inbound_id}/raw", response={200: None}, auth=auth.MANAGER, openapi_extra=RAW)
def inbound_raw(request: HttpRequest, inbound_id: int) -> HttpResponse:
    """The message as it was fetched (``message/rfc822``; empty once its contact was erased)."""
    row = get_object_or_404(InboundMessage, pk=inbound_id)
    return HttpResponse(bytes(row.raw), content_type="message/rfc822")


@router.get("/inbound/quarantine", response=list[InboundOut], auth=auth.MANAGER)
def quarantine(request: HttpRequest, filters: Query[PageFilter]) -> list[InboundMessage]:
    """Received mail that failed to be processed, newest first, with the error."""
    rows = InboundMessage.objects.filter(status=InboundStatus.QUARANTINED).defer("raw")
    if filters.before > 0:
        rows = rows.filter(pk__lt=filters.before)
    return list(rows.order_by("-id")[:PAGE])


@router.post("/inbound/{inbound_id}/retry", response={200: dict, 409: Error}, auth=auth.MANAGER)
def retry(request: HttpRequest, inbound_id: int) -> dict:
    """Processes a quarantined message again (after a fix); says how it went."""
    row = get_object_or_404(InboundMessage, pk=inbound_id)
    if row.status != InboundStatus.QUARANTINED:
        raise HttpError(409, "only a quarantined message can be processed again")
    status = actions.do_retry_inbound(Actor.for_request(request), row)
    row.refresh_from_db(fields=["error"])
    return {"id": row.pk, "status": status, "error": row.error}

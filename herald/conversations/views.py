"""Conversation pages for managers (the agents' inbox comes later): the list, one conversation
with its campaign message and replies, attachments; the quarantine of inbound mail that could
not be processed, with its error, its raw bytes, and a retry."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.conversations import queries
from herald.conversations.models import Attachment, Conversation
from herald.inbound import actions as inbound_actions
from herald.inbound.models import InboundMessage, InboundStatus, IngestLease
from herald.mailboxes.models import Mailbox

PAGE_SIZE = 50


@role_required(Role.MANAGER)
def conversation_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    mailbox_id = request.GET.get("mailbox", "")
    rows = queries.conversations(status, int(mailbox_id) if mailbox_id.isdigit() else None)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "conversations/list.html",
        {
            "page": page,
            "status": status,
            "mailbox_id": mailbox_id,
            "mailboxes": Mailbox.objects.filter(receive_enabled=True),
            "quarantined": InboundMessage.objects.filter(status=InboundStatus.QUARANTINED).count(),
        },
    )


@role_required(Role.MANAGER)
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.select_related("contact", "mailbox", "campaign", "delivery"),
        pk=conversation_id,
    )
    show_images = request.GET.get("images") == "1"
    shown = queries.thread(conversation, show_images=show_images)
    return render(
        request,
        "conversations/detail.html",
        {
            "conversation": conversation,
            "thread": shown,
            "outbound": queries.outbound(conversation.delivery),
            "show_images": show_images,
            "blocked_images": sum(s.blocked_images for s in shown),
            "addresses": list(conversation.contact.addresses.all()),
        },
    )


@role_required(Role.MANAGER)
def attachment(request: HttpRequest, part_id: int) -> HttpResponse:
    part = get_object_or_404(Attachment, pk=part_id)
    if part.omitted:
        return HttpResponse(
            _("This attachment was over the size limit: it was not kept."), status=410
        )
    # Always a download, never shown in the page's origin: an HTML or SVG file from a
    # stranger must not run as Herald.
    response = HttpResponse(bytes(part.data), content_type="application/octet-stream")
    name = part.filename.replace('"', "").replace("\r", "").replace("\n", "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@role_required(Role.MANAGER)
def quarantine(request: HttpRequest) -> HttpResponse:
    rows = (
        InboundMessage.objects.filter(status=InboundStatus.QUARANTINED)
        .select_related("mailbox")
        .defer("raw")
        .order_by("-id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    leases = IngestLease.objects.select_related("mailbox").exclude(error="")
    return render(request, "conversations/quarantine.html", {"page": page, "failing": list(leases)})


@role_required(Role.MANAGER)
def inbound_raw(request: HttpRequest, inbound_id: int) -> HttpResponse:
    row = get_object_or_404(InboundMessage, pk=inbound_id)
    response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
    return response


@role_required(Role.MANAGER)
@require_POST
def inbound_retry(request: HttpRequest, inbound_id: int) -> HttpResponse:
    row = get_object_or_404(InboundMessage, pk=inbound_id)
    try:
        status = inbound_actions.do_retry_inbound(Actor.for_request(request), row)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("conversations:quarantine")
    if status == InboundStatus.PROCESSED:
        messages.success(request, _("The message was processed."))
    else:
        messages.error(request, _("The message failed again: see its error."))
    return redirect("conversations:quarantine")

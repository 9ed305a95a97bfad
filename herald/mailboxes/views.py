"""The sandbox mailbox pages: every message the sandbox SMTP server kept, rendered and raw."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.mailboxes.models import Mailbox, SandboxMessage


@role_required(Role.AGENT)
def sandbox(request: HttpRequest) -> HttpResponse:
    messages = SandboxMessage.objects.defer("raw")
    query = request.GET.get("q", "").strip()
    if query:
        messages = messages.filter(to_header__icontains=query) | messages.filter(
            subject__icontains=query
        )
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mailboxes/sandbox.html",
        {
            "page": page,
            "query": query,
            "sandbox": Mailbox.objects.filter(is_sandbox=True).first(),
        },
    )


def _parts(message: SandboxMessage) -> tuple[str | None, str | None, list[tuple[str, str, int]]]:
    parsed = message.parsed()
    html = parsed.get_body(preferencelist=("html",))
    text = parsed.get_body(preferencelist=("plain",))
    attachments = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            (part.get_filename() or "(unnamed)", part.get_content_type(), len(payload))
        )
    return (
        html.get_content() if html is not None else None,
        text.get_content() if text is not None else None,
        attachments,
    )


@role_required(Role.AGENT)
def sandbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(SandboxMessage, pk=message_id)
    html, text, attachments = _parts(message)
    return render(
        request,
        "mailboxes/sandbox_message.html",
        {
            "message": message,
            "has_html": html is not None,
            "text": text,
            "attachments": attachments,
            "raw": bytes(message.raw).decode("utf-8", "replace"),
        },
    )


@role_required(Role.AGENT)
@xframe_options_sameorigin
def sandbox_message_html(request: HttpRequest, message_id: int) -> HttpResponse:
    """The HTML part alone, for an iframe: scripts, forms and plugins are off (CSP sandbox)."""
    message = get_object_or_404(SandboxMessage, pk=message_id)
    html, _text, _attachments = _parts(message)
    response = HttpResponse(html or "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response


@role_required(Role.AGENT)
def sandbox_message_raw(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(SandboxMessage, pk=message_id)
    response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="sandbox-{message.pk}.eml"'
    return response

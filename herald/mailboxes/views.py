"""Mailbox pages (list, create and edit, connection test, enable/disable) and the sandbox
mailbox's pages (every message the sandbox SMTP server kept, rendered and raw)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from herald.accounts.access import role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.core.forms import add_errors
from herald.dialer.dkim import dns_name, zone_file_strings
from herald.mailboxes import actions, connection, oauth
from herald.mailboxes.forms import MailboxForm
from herald.mailboxes.models import Mailbox, SandboxMessage
from herald.mailboxes.sandbox import store_message
from herald.mailboxes.secrets import SecretUnreadableError


@role_required(Role.MANAGER)
def mailbox_list(request: HttpRequest) -> HttpResponse:
    mailboxes = list(Mailbox.objects.all())
    unreadable = [(m, m.unreadable_secrets()) for m in mailboxes]
    return render(
        request,
        "mailboxes/list.html",
        {"mailboxes": mailboxes, "unreadable": [(m, s) for m, s in unreadable if s]},
    )


@role_required(Role.MANAGER)
def mailbox_edit(request: HttpRequest, mailbox_id: int | None = None) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id) if mailbox_id is not None else None
    form = MailboxForm(request.POST or None, instance=mailbox or Mailbox())
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.do_save_mailbox(
                Actor.for_request(request), mailbox, **form.action_arguments()
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Mailbox %(name)s saved.") % {"name": saved.name})
            return redirect("mailboxes:edit", saved.pk)
    dkim = None
    if mailbox is not None and mailbox.dkim_dns_record:
        dkim = {
            "name": dns_name(mailbox.dkim_selector, mailbox.dkim_domain),
            "record": mailbox.dkim_dns_record,
            "zone": zone_file_strings(mailbox.dkim_dns_record),
        }
    return render(
        request,
        "mailboxes/edit.html",
        {
            "form": form,
            "mailbox": mailbox,
            "dkim": dkim,
            "unreadable": mailbox.unreadable_secrets() if mailbox else [],
            "redirect_uri": oauth_redirect_uri(),
        },
    )


@role_required(Role.MANAGER)
@require_POST
def mailbox_test(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Checks SMTP and IMAP now: the one page that waits on the network (10 s at most each)."""
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    results = connection.check_mailbox(mailbox)
    return render(
        request, "mailboxes/_connection_test.html", {"mailbox": mailbox, "results": results}
    )


@role_required(Role.MANAGER)
@require_POST
def mailbox_enabled(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    enabled = request.POST.get("enabled") == "1"
    actions.do_set_mailbox_enabled(Actor.for_request(request), mailbox, enabled)
    if enabled:
        messages.success(request, _("Mailbox %(name)s enabled.") % {"name": mailbox.name})
    else:
        messages.success(request, _("Mailbox %(name)s disabled.") % {"name": mailbox.name})
    return redirect("mailboxes:list")


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
    """The HTML and text bodies and the attachments of a sandbox message; a message that
    cannot be read (parts nested too deep) shows as a note pointing at its raw form."""
    from herald.inbound.mime import MAX_DEPTH, depth

    try:
        parsed = message.parsed()
        too_deep = depth(parsed) > MAX_DEPTH
    except RecursionError:
        too_deep = True
    if too_deep:
        note = _("Its parts nest more than %(n)d levels deep: see the raw message.")
        return None, note % {"n": MAX_DEPTH}, []
    html = parsed.get_body(preferencelist=("html",))
    text = parsed.get_body(preferencelist=("plain",))
    attachments = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            (part.get_filename() or "(unnamed)", part.get_content_type(), len(payload))
        )
    return (
        _content(html) if html is not None else None,
        _content(text) if text is not None else None,
        attachments,
    )


def _content(part: Any) -> str:
    """A text part's content; in a charset Python does not know (or wrongly encoded), its
    bytes read as UTF-8 with replacement characters."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True) or b""
        return bytes(payload).decode("utf-8", "replace")


@role_required(Role.AGENT)
def sandbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    from herald.mailboxes.sandbox import answer_address, sandbox_mailbox_for

    message = get_object_or_404(SandboxMessage, pk=message_id)
    html, text, attachments = _parts(message)
    reply_to = answer_address(message)
    return render(
        request,
        "mailboxes/sandbox_message.html",
        {
            "reply_to": reply_to,
            "can_reply": bool(reply_to) and sandbox_mailbox_for([reply_to]) is not None,
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


@role_required(Role.AGENT)
@require_POST
def sandbox_reply(request: HttpRequest, message_id: int) -> HttpResponse:
    """ "Reply as this customer": the recipient's reply goes to the sandbox mailbox that sent the
    message and is taken in like mail read over IMAP (herald.mailboxes.sandbox.take_in)."""
    from herald.mailboxes.sandbox import customer_reply, take_in

    message = get_object_or_404(SandboxMessage, pk=message_id)
    text = request.POST.get("text", "").strip()[:100_000]
    if not text:
        messages.error(request, _("Write the customer's reply first."))
        return redirect("mailboxes:sandbox_message", message.pk)
    try:
        mailbox, raw = customer_reply(message, text)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("mailboxes:sandbox_message", message.pk)
    stored = store_message(
        message.rcpt_tos[0] if message.rcpt_tos else "", [mailbox.from_address], raw
    )
    take_in(mailbox, raw, stored.pk)
    messages.success(
        request, _("The reply was received by %(mailbox)s: see the inbox.") % {"mailbox": mailbox}
    )
    return redirect("mailboxes:sandbox_message", message.pk)


# -- OAuth 2.0 sign-in (herald.mailboxes.oauth) -------------------------------------------------

SIGN_INS = "herald_oauth_sign_ins"  # in the session: state -> (mailbox id, PKCE verifier)
MAX_SIGN_INS = 5  # sign-ins under way per session; older ones are forgotten


def oauth_redirect_uri() -> str:
    """The address to register as the app's redirect URI (the same for every mailbox)."""
    from django.conf import settings
    from django.urls import reverse

    return settings.BASE_URL.rstrip("/") + reverse("mailboxes:oauth_callback")


@role_required(Role.MANAGER)
def oauth_start(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Sends the browser to the provider to sign in as the mailbox's account. A link, not a
    form: the pages' CSP allows forms to post to Herald only (``form-action 'self'``), which
    would stop the redirection to the provider; starting a sign-in changes nothing but this
    session's list of sign-ins under way."""
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    try:
        sign_in = oauth.start(mailbox, oauth_redirect_uri())
    except (oauth.SignInError, SecretUnreadableError) as exc:
        messages.error(request, str(exc))
        return redirect("mailboxes:edit", mailbox.pk)
    pending = dict(list(request.session.get(SIGN_INS, {}).items())[-(MAX_SIGN_INS - 1) :])
    pending[sign_in.state] = [mailbox.pk, sign_in.code_verifier]
    request.session[SIGN_INS] = pending
    return redirect(sign_in.url)


@role_required(Role.MANAGER)
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back: the code is exchanged for tokens."""
    pending = dict(request.session.get(SIGN_INS, {}))
    found = pending.pop(request.GET.get("state", ""), None)
    request.session[SIGN_INS] = pending
    if found is None:
        messages.error(request, _("This sign-in is unknown or was already used: start it again."))
        return redirect("mailboxes:list")
    mailbox = get_object_or_404(Mailbox, pk=found[0])
    if "error" in request.GET:
        problem = oauth.explain(
            oauth.ProviderError(request.GET["error"], request.GET.get("error_description", ""))
        )
        messages.error(request, problem)
        return redirect("mailboxes:edit", mailbox.pk)
    try:
        signed_in = oauth.callback(
            mailbox, oauth_redirect_uri(), request.build_absolute_uri(), found[1]
        )
    except (oauth.SignInError, SecretUnreadableError) as exc:
        messages.error(request, str(exc))
        return redirect("mailboxes:edit", mailbox.pk)
    actions.do_record_sign_in(Actor.for_request(request), signed_in)
    messages.success(request, _("Signed in as %(account)s.") % {"account": signed_in.oauth_account})
    return redirect("mailboxes:edit", mailbox.pk)


@role_required(Role.MANAGER)
@require_POST
def oauth_forget(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Forgets the sign-in (revoked at the provider when it offers revocation)."""
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    actions.do_forget_sign_in(Actor.for_request(request), mailbox)
    messages.success(request, _("Signed out: Herald no longer logs in to this mailbox."))
    return redirect("mailboxes:edit", mailbox.pk)

"""The agent desk's pages: the inbox (views, counts, search, live refresh), one conversation (the
thread, the customer panel, take / assign / answer / forward / note / CC-BCC / pend / snooze /
close), "New email", and for managers: mailbox members, wrap-up reasons and their counts; the
quarantine of inbound mail that could not be processed.

Each view parses, checks access (agents see their mailboxes' conversations only: anything else
is 404), calls one action of ``herald.conversations.actions`` and shows the result.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts.access import current_user, role_required
from herald.accounts.models import Role, User
from herald.audit.actors import Actor
from herald.contacts.models import Contact
from herald.conversations import actions, compose, queries
from herald.conversations.actions import Answer, Refused, Upload
from herald.conversations.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Direction,
    MailboxMember,
    Message,
    WrapUpReason,
)
from herald.inbound import actions as inbound_actions
from herald.inbound.models import InboundMessage, InboundStatus, IngestLease
from herald.mailboxes.models import DeskMode, Mailbox
from herald.messaging.models import Template
from herald.messaging.rendering import RenderError

PAGE_SIZE = 50
MAX_UPLOADS = 10


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    """The conversation if the user may see it; 404 otherwise (an agent outside its mailbox
    learns nothing of it, not even that it exists)."""
    found = queries.conversation_for(current_user(request), conversation_id)
    if found is None:
        raise Http404("no such conversation")
    return found


def _filter(request: HttpRequest) -> queries.InboxFilter:
    get = request.GET
    mailbox = get.get("mailbox", "")
    agent = get.get("agent", "")
    return queries.InboxFilter(
        view=get.get("view", "") if get.get("view", "") in queries.VIEWS else "all",
        mailbox_id=int(mailbox) if mailbox.isdigit() else None,
        search=get.get("q", "")[:200],
        status=get.get("status", ""),
        agent_id=int(agent) if agent.isdigit() else None,
        since=_date(get.get("since")),
        until=_date(get.get("until")),
        order="waiting" if get.get("order") == "waiting" else "recent",
    )


def _date(value: str | None) -> dt.date | None:
    try:
        return parse_date(value or "")
    except ValueError:
        return None


def _inbox_context(request: HttpRequest) -> dict[str, object]:
    user = current_user(request)
    flt = _filter(request)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    rows = queries.inbox_page(user, flt, page)
    counts = queries.counts(user, flt.mailbox_id)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "rows": rows[: queries.PAGE_SIZE],
        "has_next": len(rows) > queries.PAGE_SIZE,
        "page_number": page,
        "flt": flt,
        "query": query.urlencode(),
        "views": [
            (key, label, counts.get(key, ""))
            for key, label in (
                ("mine", _("Mine")),
                ("unassigned", _("Unassigned")),
                ("all", _("All open")),
                ("pending", _("Pending")),
                ("snoozed", _("Snoozed")),
                ("closed", _("Closed")),
            )
        ],
        "mailboxes": queries.mailboxes_of(user),
        "agents": User.objects.filter(is_active=True).order_by("email")
        if user.has_role(Role.MANAGER)
        else [],
        "statuses": ConversationStatus.choices,
    }


@role_required(Role.AGENT)
def conversation_list(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request)
    context["quarantined"] = (
        InboundMessage.objects.filter(status=InboundStatus.QUARANTINED).count()
        if current_user(request).has_role(Role.MANAGER)
        else 0
    )
    return render(request, "conversations/list.html", context)


@role_required(Role.AGENT)
def conversation_rows(request: HttpRequest) -> HttpResponse:
    """The inbox's rows and counts alone: the page fetches them every few seconds."""
    return render(request, "conversations/_inbox.html", _inbox_context(request))


def _detail_context(request: HttpRequest, conversation: Conversation) -> dict[str, object]:
    user = current_user(request)
    show_images = request.GET.get("images") == "1"
    shown = queries.thread(conversation, show_images=show_images)
    visible_mailboxes = queries.mailbox_ids_of(user)
    earlier = [
        c
        for c in queries.earlier(conversation)
        if visible_mailboxes is None or c.mailbox_id in visible_mailboxes
    ]
    refusal = actions.may_answer(user, conversation)
    manager = user.has_role(Role.MANAGER)
    return {
        "conversation": conversation,
        "thread": shown,
        "outbound": queries.outbound(conversation.delivery),
        "show_images": show_images,
        "blocked_images": sum(s.blocked_images for s in shown),
        "addresses": list(conversation.contact.addresses.all()),
        "lists": list(
            conversation.contact.memberships.select_related("contact_list").order_by("-id")[:20]
        ),
        "fields": sorted((conversation.contact.fields or {}).items())[:30],
        "earlier": earlier,
        "received": queries.campaigns_received(conversation.contact_id),
        "refusal": refusal,
        "can_answer": refusal is None and conversation.status != ConversationStatus.CLOSED,
        "can_take": conversation.mailbox.desk_mode == DeskMode.ASSIGNMENT
        and conversation.assignee_id is None
        and conversation.status != ConversationStatus.CLOSED,
        "is_manager": manager,
        "assignable": queries.assignable(conversation) if manager else [],
        "answering": queries.answering(conversation, user),
        "reasons": conversation.mailbox.wrapup_reasons.filter(active=True),
        "recipients": {
            mode: actions.recipients(conversation, mode) for mode in ("reply", "reply_all")
        },
        "saved_answers": Template.objects.filter(saved_answer=True).order_by("name"),
        "signature": compose.signature_html(_signature(conversation)),
        "latest": max((s.message.pk for s in shown), default=0),
        "statuses": ConversationStatus,
    }


def _signature(conversation: Conversation) -> str:
    """The signature loaded into the composer: the campaign template's, else the mailbox's."""
    campaign = conversation.campaign
    if campaign is not None and campaign.template_id:
        template = Template.objects.filter(pk=campaign.template_id).select_related("signature")
        found = template.first()
        if found is not None and found.signature is not None:
            return found.signature.html
    signature = conversation.mailbox.signature
    return signature.html if signature else ""


@role_required(Role.AGENT)
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    actions.mark_read(current_user(request), conversation)
    return render(request, "conversations/detail.html", _detail_context(request, conversation))


@role_required(Role.AGENT)
def conversation_live(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """What changed on an open conversation page: the status bar and the thread, fetched every
    few seconds; an unchanged page gets 204 and keeps what it shows (and the composer)."""
    conversation = _conversation(request, conversation_id)
    context = _detail_context(request, conversation)
    actions.mark_read(current_user(request), conversation)
    return render(request, "conversations/_live.html", context)


def _back(conversation: Conversation) -> HttpResponse:
    return redirect("conversations:detail", conversation.pk)


def _refused(request: HttpRequest, exc: Refused | ValidationError) -> None:
    if isinstance(exc, Refused):
        messages.error(request, exc.message)
        if exc.link:
            messages.info(request, _("See %(link)s") % {"link": exc.link})
    else:
        messages.error(request, " ".join(exc.messages))


@role_required(Role.AGENT)
@require_POST
def take(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    try:
        actions.do_take(current_user(request), conversation)
    except Refused as exc:
        _refused(request, exc)
    return _back(conversation)


@role_required(Role.MANAGER)
@require_POST
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    agent_id = request.POST.get("agent", "")
    agent = get_object_or_404(User, pk=agent_id) if agent_id.isdigit() else None
    try:
        actions.do_assign(current_user(request), conversation, agent)
    except (Refused, ValidationError) as exc:
        _refused(request, exc)
    return _back(conversation)


@role_required(Role.AGENT)
@require_POST
def set_status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    status = request.POST.get("status", "")
    until = None
    if status == ConversationStatus.SNOOZED:
        until = _snooze_until(request.POST.get("until", ""))
    try:
        actions.do_set_status(current_user(request), conversation, status, snoozed_until=until)
    except (Refused, ValidationError) as exc:
        _refused(request, exc)
    return _back(conversation)


def _snooze_until(value: str) -> dt.datetime | None:
    """A preset ("1h", "tomorrow") or a local date and time from the form."""
    now = timezone.now()
    presets = {"1h": dt.timedelta(hours=1), "4h": dt.timedelta(hours=4)}
    if value in presets:
        return now + presets[value]
    if value == "tomorrow":
        local = timezone.localtime(now)
        return (local + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@role_required(Role.AGENT)
@require_POST
def close(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    reason_id = request.POST.get("reason", "")
    reason = (
        WrapUpReason.objects.filter(pk=reason_id, mailbox_id=conversation.mailbox_id).first()
        if reason_id.isdigit()
        else None
    )
    try:
        actions.do_close(
            current_user(request), conversation, reason=reason, note=request.POST.get("note", "")
        )
    except (Refused, ValidationError) as exc:
        _refused(request, exc)
        return _back(conversation)
    messages.success(request, _("Conversation closed."))
    return redirect("conversations:list")


def _uploads(request: HttpRequest) -> list[Upload]:
    files = request.FILES.getlist("attachments")[:MAX_UPLOADS]
    total = sum(f.size or 0 for f in files)
    if total > actions.MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("Attachments may total %(mb)d MB at most.")
            % {"mb": actions.MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    return [
        Upload(f.name or "attachment", f.content_type or "application/octet-stream", f.read())
        for f in files
    ]


@role_required(Role.AGENT)
@require_POST
def answer(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    post = request.POST
    mode = post.get("mode", "reply")
    of = post.get("of", "")
    try:
        message = actions.do_answer(
            current_user(request),
            conversation,
            Answer(
                mode=mode,
                html=post.get("html", ""),
                to=post.get("to", ""),
                uploads=_uploads(request),
                forward_attachments=post.get("forward_attachments", "1") == "1",
                of_message=int(of) if of.isdigit() else None,
            ),
        )
    except (Refused, ValidationError) as exc:
        _refused(request, exc)
        return _back(conversation)
    if message.direction == Direction.NOTE:
        messages.success(request, _("Note added."))
    else:
        messages.success(request, _("Queued for sending to %(to)s.") % {"to": message.to_address})
    return _back(conversation)


@role_required(Role.AGENT)
@require_POST
def edit_cc(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    try:
        actions.do_set_cc(
            current_user(request),
            conversation,
            cc=request.POST.get("cc", ""),
            bcc=request.POST.get("bcc", ""),
        )
    except (Refused, ValidationError) as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("CC/BCC saved: every answer from now on uses them."))
    return _back(conversation)


@role_required(Role.AGENT)
@require_POST
def answering(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The composer is open: others see "answering" (a heartbeat every few seconds)."""
    conversation = _conversation(request, conversation_id)
    actions.note_answering(current_user(request), conversation)
    return HttpResponse(status=204)


@role_required(Role.AGENT)
def saved_answer(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A saved answer rendered for this conversation's contact (contact and account variables,
    defaults), as HTML for the composer."""
    conversation = _conversation(request, conversation_id)
    template_id = request.GET.get("template", "")
    if not template_id:  # the saved answers there are, as the composer's options
        options = "".join(
            f'<option value="{t.pk}">{escape(t.name)}</option>'
            for t in Template.objects.filter(saved_answer=True).order_by("name")
        )
        return HttpResponse(options)
    template = get_object_or_404(
        Template.objects.select_related("current_version"),
        pk=int(template_id) if template_id.isdigit() else 0,
        saved_answer=True,
    )
    if template.current_version is None:
        return HttpResponse(_("This saved answer has no saved version."), status=409)
    try:
        html = queries.saved_answer_html(conversation, template)
    except RenderError as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain; charset=utf-8")
    return HttpResponse(html)


@role_required(Role.AGENT)
def new_email(request: HttpRequest) -> HttpResponse:
    """An agent starts a conversation: to a contact (``?contact=``) or any address."""
    user = current_user(request)
    mailboxes = queries.mailboxes_of(user).filter(enabled=True)
    contact_id = request.GET.get("contact") or request.POST.get("contact") or ""
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id.isdigit() else None
    default_to = ""
    if contact is not None:
        first = contact.addresses.order_by("position").values_list("email", flat=True).first()
        default_to = first or ""
    values = {
        "to": request.POST.get("to", "") or default_to,
        "subject": request.POST.get("subject", ""),
        "html": request.POST.get("html", ""),
        "mailbox": request.POST.get("mailbox", ""),
    }
    warning = ""
    if request.method == "POST":
        mailbox = (
            mailboxes.filter(pk=values["mailbox"] or 0).first()
            if str(values["mailbox"]).isdigit()
            else None
        )
        try:
            if mailbox is None:
                raise ValidationError(_("Choose the mailbox it goes out from."))
            target = contact or _contact_of(values["to"])
            if request.POST.get("confirmed") != "1" and actions.subject_used_before(
                target, values["subject"]
            ):
                warning = _(
                    "This subject was already used with this contact. Send anyway, or change it."
                )
            else:
                conversation = actions.do_start_conversation(
                    user,
                    mailbox,
                    to=values["to"],
                    subject=values["subject"],
                    html=values["html"],
                    uploads=_uploads(request),
                    contact=contact,
                )
                messages.success(request, _("Queued for sending to %(to)s.") % {"to": values["to"]})
                return redirect("conversations:detail", conversation.pk)
        except (Refused, ValidationError) as exc:
            if isinstance(exc, Refused):
                return render(
                    request,
                    "conversations/new.html",
                    {
                        "mailboxes": mailboxes,
                        "values": values,
                        "contact": contact,
                        "error": exc.message,
                        "error_link": exc.link,
                    },
                    status=409 if exc.status == 409 else 422,
                )
            _refused(request, exc)
    return render(
        request,
        "conversations/new.html",
        {"mailboxes": mailboxes, "values": values, "contact": contact, "warning": warning},
    )


def _contact_of(address: str) -> Contact | None:
    from herald.contacts import addresses
    from herald.contacts.models import Address

    found = Address.objects.filter(email_key=addresses.key(address.strip())).first()
    return found.contact if found else None


@role_required(Role.AGENT)
def attachment(request: HttpRequest, part_id: int) -> HttpResponse:
    part = get_object_or_404(Attachment.objects.select_related("message"), pk=part_id)
    _conversation(request, part.message.conversation_id)  # 404 unless the user may see it
    if part.omitted:
        return HttpResponse(
            _("This attachment was over the size limit: it was not kept."), status=410
        )
    # Always a download, never shown in the page's origin: an HTML or SVG file from a
    # stranger must not run as Herald.
    response = HttpResponse(bytes(part.data), content_type="application/octet-stream")
    name = "".join(c for c in part.filename if c not in '"\r\n\\') or "attachment"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    return response


@role_required(Role.AGENT)
def sent_raw(request: HttpRequest, sent_id: int) -> HttpResponse:
    """An outbound message exactly as it was sent (.eml)."""
    message = get_object_or_404(Message.objects.exclude(raw=b""), pk=sent_id)
    _conversation(request, message.conversation_id)
    response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="sent-{message.pk}.eml"'
    return response


# -- managers: who works where, wrap-up reasons -----------------------------------------------


@role_required(Role.MANAGER)
def members(request: HttpRequest) -> HttpResponse:
    """Add or remove agents to one or more mailboxes in one step; each agent's outbound limit."""
    if request.method == "POST":
        users = actions.users_of(int(u) for u in request.POST.getlist("users") if u.isdigit())
        boxes = list(
            Mailbox.objects.filter(
                pk__in=[int(m) for m in request.POST.getlist("mailboxes") if m.isdigit()]
            )
        )
        limit_for = request.POST.get("limit_member", "")
        if limit_for.isdigit():
            member = get_object_or_404(MailboxMember, pk=int(limit_for))
            limits = {}
            for name in ("max_outbound", "capacity"):
                if name in request.POST:
                    raw = request.POST[name].strip()
                    limits[name] = int(raw) if raw.isdigit() and len(raw) < 10 else None
            try:
                actions.do_set_member_limit(Actor.for_request(request), member, **limits)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Limits saved."))
            return redirect("conversations:members")
        if not users or not boxes:
            messages.error(request, _("Choose at least one agent and one mailbox."))
        else:
            add = request.POST.get("action") != "remove"
            n = actions.do_set_members(Actor.for_request(request), users, boxes, add=add)
            messages.success(
                request,
                (_("%(n)d memberships added.") if add else _("%(n)d memberships removed."))
                % {"n": n},
            )
        return redirect("conversations:members")
    return render(
        request,
        "conversations/members.html",
        {
            "users": User.objects.filter(is_active=True).order_by("email"),
            "mailboxes": [(m, queries.members_of(m)) for m in Mailbox.objects.all()],
        },
    )


@role_required(Role.MANAGER)
def wrapup_reasons(request: HttpRequest) -> HttpResponse:
    mailboxes = list(Mailbox.objects.prefetch_related("wrapup_reasons"))
    if request.method == "POST":
        mailbox = get_object_or_404(Mailbox, pk=request.POST.get("mailbox") or 0)
        reason_id = request.POST.get("reason", "")
        reason = (
            get_object_or_404(WrapUpReason, pk=int(reason_id), mailbox=mailbox)
            if reason_id.isdigit()
            else None
        )
        try:
            actions.do_save_wrapup_reason(
                Actor.for_request(request),
                reason,
                mailbox=mailbox,
                name=request.POST.get("name", reason.name if reason else ""),
                active=request.POST.get("active", "1") == "1",
                disposition_code=request.POST.get("disposition_code"),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Wrap-up reasons saved."))
        return redirect("conversations:wrapup")
    from herald.dispositions.models import DispositionRule

    codes = DispositionRule.objects.values_list("code", flat=True)
    return render(request, "conversations/wrapup.html", {"mailboxes": mailboxes, "codes": codes})


@role_required(Role.MANAGER)
def wrapup_report(request: HttpRequest) -> HttpResponse:
    since, until = _date(request.GET.get("since")), _date(request.GET.get("until"))
    mailbox = request.GET.get("mailbox", "")
    counts = queries.wrapup_counts(since, until, int(mailbox) if mailbox.isdigit() else None)
    return render(
        request,
        "conversations/wrapup_report.html",
        {
            "counts": counts,
            "since": since,
            "until": until,
            "mailbox_id": mailbox,
            "mailboxes": Mailbox.objects.all(),
        },
    )


# -- quarantine ------------------------------------------------------------------------------


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


def detail_url(conversation: Conversation) -> str:
    return reverse("conversations:detail", args=[conversation.pk])

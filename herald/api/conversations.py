"""API: the agent desk. Conversations (list by view, filter, search; get with messages and
attachments), take / assign / unassign, reply / reply-all / forward / note, pend / snooze / open
/ close with wrap-up, CC/BCC, agent-started conversations, mailbox members, wrap-up reasons and
saved answers. Agents reach only their mailboxes' conversations (404 for the others), exactly as
on the pages: both call ``herald.conversations.actions``.

A refused operation answers with the refusal's status and words: 409 when the state forbids it
(another agent took the conversation first, one is already active with that address, the agent's
limit is reached), 403 for a mailbox the agent does not work, 422 for input to fix."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from ninja import Router, Status
from ninja.errors import HttpError

from herald.accounts.access import current_user
from herald.accounts.models import User
from herald.api import auth
from herald.api.schemas import Error, Input
from herald.audit.actors import Actor
from herald.contacts.models import Contact
from herald.conversations import actions, compose, queries
from herald.conversations.actions import Answer, Upload
from herald.conversations.models import (
    Attachment,
    Conversation,
    MailboxMember,
    Message,
    WrapUpReason,
)
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template
from herald.messaging.rendering import RenderError

router = Router(tags=["conversations"])
ERRORS = {403: Error, 404: Error, 409: Error, 422: Error}


class AttachmentIn(Input):
    filename: str
    content_type: str = "application/octet-stream"
    data_base64: str


class AnswerIn(Input):
    mode: Literal["reply", "reply_all", "forward", "note"] = "reply"
    html: str = ""
    to: str = ""
    of_message_id: int | None = None
    forward_attachments: bool = True
    attachments: list[AttachmentIn] = []


class AssignIn(Input):
    agent_id: int | None = None


class StatusIn(Input):
    status: Literal["open", "pending", "snoozed"]
    snoozed_until: dt.datetime | None = None


class CloseIn(Input):
    reason_id: int | None = None
    note: str = ""


class CcIn(Input):
    cc: str = ""
    bcc: str = ""


class NewConversationIn(Input):
    mailbox_id: int
    to: str
    subject: str
    html: str
    contact_id: int | None = None
    attachments: list[AttachmentIn] = []


class MembersIn(Input):
    user_ids: list[int]
    mailbox_ids: list[int]
    action: Literal["add", "remove"] = "add"


class ReasonIn(Input):
    name: str
    active: bool = True


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    found = queries.conversation_for(current_user(request), conversation_id)
    if found is None:
        raise HttpError(404, "no such conversation")
    return found


def _summary(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.pk,
        "subject": c.subject,
        "status": c.status,
        "mailbox_id": c.mailbox_id,
        "contact_id": c.contact_id,
        "campaign_id": c.campaign_id,
        "assignee_id": c.assignee_id,
        "origin": c.origin,
        "previous_id": c.previous_id,
        "created_at": c.created_at,
        "last_message_at": c.last_message_at,
        "waiting_since": c.waiting_since,
        "snoozed_until": c.snoozed_until,
        "cc": c.cc,
        "bcc": c.bcc,
        "wrapup_reason_id": c.wrapup_reason_id,
        "wrapup_note": c.wrapup_note,
        "closed_at": c.closed_at,
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "direction": m.direction,
        "kind": m.kind,
        "at": m.at,
        "from": m.from_address,
        "to": m.to_address,
        "cc": m.cc,
        "subject": m.subject,
        "text": m.text,
        "body": m.body,
        "author_id": m.author_id,
        "send_state": m.send_state or None,
        "send_error": m.send_error or None,
        "message_id": m.message_id or None,
        "attachments": [
            {
                "id": a.pk,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "kept": not a.omitted,
            }
            for a in m.attachments.all()
        ],
    }


def _uploads(parts: list[AttachmentIn]) -> list[Upload]:
    uploads = []
    for part in parts[:10]:
        try:
            data = base64.b64decode(part.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(
                422, f"attachment {part.filename!r}: data_base64 is not base64"
            ) from None
        uploads.append(Upload(part.filename[:255], part.content_type[:100], data))
    return uploads


@router.get("/conversations", auth=auth.AGENT)
def list_conversations(
    request: HttpRequest,
    view: Literal["mine", "unassigned", "all", "pending", "snoozed", "closed"] = "all",
    mailbox_id: int | None = None,
    q: str = "",
    status: str = "",
    agent_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    order: Literal["recent", "waiting"] = "recent",
    page: int = 1,
) -> dict:
    """One page (50) of an inbox view, or of a search (``q``) across views; ``counts`` gives
    each view's size ("999+" above 999)."""
    user = current_user(request)
    flt = queries.InboxFilter(view, mailbox_id, q[:200], status, agent_id, since, until, order)
    rows = queries.inbox_page(user, flt, max(1, min(page, 10_000)))
    return {
        "conversations": [
            {
                **_summary(c),
                "unread": not getattr(c, "seen", True) and c.last_inbound_at is not None,
            }
            for c in rows[: queries.PAGE_SIZE]
        ],
        "has_next": len(rows) > queries.PAGE_SIZE,
        "counts": queries.counts(user, mailbox_id),
    }


@router.get("/conversations/{conversation_id}", auth=auth.AGENT, response={200: dict, **ERRORS})
def get_conversation(request: HttpRequest, conversation_id: int) -> dict:
    conversation = _conversation(request, conversation_id)
    messages = conversation.messages.prefetch_related("attachments").defer("raw", "html")
    return {**_summary(conversation), "messages": [_message(m) for m in messages]}


@router.post(
    "/conversations/{conversation_id}/take", auth=auth.AGENT, response={200: dict, **ERRORS}
)
def take_conversation(request: HttpRequest, conversation_id: int) -> dict:
    """Takes an unassigned conversation (assignment mode); 409 says who took it first."""
    conversation = _conversation(request, conversation_id)
    return _summary(actions.do_take(current_user(request), conversation))


@router.post(
    "/conversations/{conversation_id}/assign", auth=auth.MANAGER, response={200: dict, **ERRORS}
)
def assign_conversation(request: HttpRequest, conversation_id: int, payload: AssignIn) -> dict:
    """Assigns to a member of the mailbox (or the manager), or unassigns with null."""
    conversation = _conversation(request, conversation_id)
    agent = get_object_or_404(User, pk=payload.agent_id) if payload.agent_id else None
    return _summary(actions.do_assign(current_user(request), conversation, agent))


@router.post(
    "/conversations/{conversation_id}/messages",
    auth=auth.AGENT,
    response={201: dict, **ERRORS},
)
def answer_conversation(
    request: HttpRequest, conversation_id: int, payload: AnswerIn
) -> Status[dict]:
    """A reply, reply-all, forward (``to``) or internal note; sent by the worker (poll the
    conversation for ``send_state``). ``html`` may be plain text."""
    conversation = _conversation(request, conversation_id)
    message = actions.do_answer(
        current_user(request),
        conversation,
        Answer(
            mode=payload.mode,
            html=payload.html,
            to=payload.to,
            uploads=_uploads(payload.attachments),
            forward_attachments=payload.forward_attachments,
            of_message=payload.of_message_id,
        ),
    )
    return Status(201, _message(message))


@router.post(
    "/conversations/{conversation_id}/status", auth=auth.AGENT, response={200: dict, **ERRORS}
)
def set_conversation_status(request: HttpRequest, conversation_id: int, payload: StatusIn) -> dict:
    conversation = _conversation(request, conversation_id)
    return _summary(
        actions.do_set_status(
            current_user(request),
            conversation,
            payload.status,
            snoozed_until=payload.snoozed_until,
        )
    )


@router.post(
    "/conversations/{conversation_id}/close", auth=auth.AGENT, response={200: dict, **ERRORS}
)
def close_conversation(request: HttpRequest, conversation_id: int, payload: CloseIn) -> dict:
    conversation = _conversation(request, conversation_id)
    reason = (
        WrapUpReason.objects.filter(
            pk=payload.reason_id, mailbox_id=conversation.mailbox_id
        ).first()
        if payload.reason_id
        else None
    )
    if payload.reason_id and reason is None:
        raise HttpError(422, "reason_id is not a wrap-up reason of this conversation's mailbox")
    return _summary(
        actions.do_close(current_user(request), conversation, reason=reason, note=payload.note)
    )


@router.put("/conversations/{conversation_id}/cc", auth=auth.AGENT, response={200: dict, **ERRORS})
def set_conversation_cc(request: HttpRequest, conversation_id: int, payload: CcIn) -> dict:
    """The conversation's CC/BCC, used by every later answer."""
    conversation = _conversation(request, conversation_id)
    return _summary(
        actions.do_set_cc(current_user(request), conversation, cc=payload.cc, bcc=payload.bcc)
    )


@router.post("/conversations", auth=auth.AGENT, response={201: dict, **ERRORS})
def start_conversation(request: HttpRequest, payload: NewConversationIn) -> Status[dict]:
    """An agent-started conversation, assigned to the caller; its first message is queued."""
    user = current_user(request)
    mailbox = queries.mailboxes_of(user).filter(pk=payload.mailbox_id).first()
    if mailbox is None:
        raise HttpError(404, "no such mailbox among yours")
    contact = get_object_or_404(Contact, pk=payload.contact_id) if payload.contact_id else None
    conversation = actions.do_start_conversation(
        user,
        mailbox,
        to=payload.to,
        subject=payload.subject,
        html=payload.html,
        uploads=_uploads(payload.attachments),
        contact=contact,
    )
    return Status(201, _summary(conversation))


@router.get("/conversations/attachments/{part_id}", auth=auth.AGENT, response={200: None, **ERRORS})
def download_attachment(request: HttpRequest, part_id: int) -> HttpResponse:
    part = get_object_or_404(Attachment.objects.select_related("message"), pk=part_id)
    _conversation(request, part.message.conversation_id)
    if part.omitted:
        raise HttpError(404, "this attachment was over the size limit: it was not kept")
    response = HttpResponse(bytes(part.data), content_type="application/octet-stream")
    name = "".join(c for c in part.filename if c not in '"\r\n\\') or "attachment"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    return response


@router.get("/saved-answers", auth=auth.AGENT)
def list_saved_answers(request: HttpRequest) -> list[dict]:
    return [
        {"id": t.pk, "name": t.name, "subject": t.subject}
        for t in Template.objects.filter(saved_answer=True).order_by("name")
    ]


@router.get(
    "/conversations/{conversation_id}/saved-answers/{template_id}",
    auth=auth.AGENT,
    response={200: dict, **ERRORS},
)
def render_saved_answer(request: HttpRequest, conversation_id: int, template_id: int) -> dict:
    """A saved answer rendered for the conversation's contact (HTML and text)."""
    conversation = _conversation(request, conversation_id)
    template = get_object_or_404(Template, pk=template_id, saved_answer=True)
    if template.current_version is None:
        raise HttpError(409, "this saved answer has no saved version")
    try:
        html = queries.saved_answer_html(conversation, template)
    except RenderError as exc:
        raise HttpError(422, str(exc)) from None
    return {"html": html, "text": compose.text_of(html)}


# -- mailbox members and wrap-up reasons -------------------------------------------------------


@router.get("/mailboxes/{mailbox_id}/members", auth=auth.MANAGER, response={200: list, **ERRORS})
def list_members(request: HttpRequest, mailbox_id: int) -> list[dict]:
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    return [_member_out(m) for m in queries.members_of(mailbox)]


def _member_out(member: MailboxMember) -> dict:
    return {
        "user_id": member.user_id,
        "email": member.user.email,
        "max_outbound": member.max_outbound,
        "capacity": member.capacity,
    }


@router.post("/mailbox-members", auth=auth.MANAGER, response={200: dict, **ERRORS})
def set_members(request: HttpRequest, payload: MembersIn) -> dict:
    """Adds (or removes) every user to (from) every mailbox given, in one step."""
    users = actions.users_of(payload.user_ids[:1000])
    mailboxes = list(Mailbox.objects.filter(pk__in=payload.mailbox_ids[:1000]))
    if len(users) != len(set(payload.user_ids)) or len(mailboxes) != len(set(payload.mailbox_ids)):
        raise HttpError(422, "an unknown or deactivated user, or an unknown mailbox")
    changed = actions.do_set_members(
        Actor.for_request(request), users, mailboxes, add=payload.action == "add"
    )
    return {"changed": changed}


class LimitIn(Input):
    max_outbound: int | None = None
    capacity: int | None = None


@router.put(
    "/mailboxes/{mailbox_id}/members/{user_id}",
    auth=auth.MANAGER,
    response={200: dict, **ERRORS},
)
def set_member_limit(request: HttpRequest, mailbox_id: int, user_id: int, payload: LimitIn) -> dict:
    """An agent's own limits in the mailbox, each null for the mailbox's: open outbound
    conversations (``max_outbound``) and open customer conversations held at once
    (``capacity``, routing). A field left out keeps its value."""
    member = get_object_or_404(MailboxMember, mailbox_id=mailbox_id, user_id=user_id)
    actions.do_set_member_limit(
        Actor.for_request(request), member, **payload.dict(exclude_unset=True)
    )
    return _member_out(member)


@router.get(
    "/mailboxes/{mailbox_id}/wrapup-reasons", auth=auth.AGENT, response={200: list, **ERRORS}
)
def list_reasons(request: HttpRequest, mailbox_id: int) -> list[dict]:
    mailbox = queries.mailboxes_of(current_user(request)).filter(pk=mailbox_id).first()
    if mailbox is None:
        raise Http404("no such mailbox among yours")
    return [{"id": r.pk, "name": r.name, "active": r.active} for r in mailbox.wrapup_reasons.all()]


@router.post(
    "/mailboxes/{mailbox_id}/wrapup-reasons", auth=auth.MANAGER, response={201: dict, **ERRORS}
)
def create_reason(request: HttpRequest, mailbox_id: int, payload: ReasonIn) -> Status[dict]:
    mailbox = get_object_or_404(Mailbox, pk=mailbox_id)
    reason = actions.do_save_wrapup_reason(
        Actor.for_request(request), None, mailbox=mailbox, name=payload.name, active=payload.active
    )
    return Status(201, {"id": reason.pk, "name": reason.name, "active": reason.active})


def refused(exc: actions.Refused) -> tuple[int, dict[str, str]]:
    body = {"detail": exc.message}
    if exc.link:
        body["link"] = exc.link
    return exc.status, body

"""Automatic answers to inbound mail: the mailbox's acknowledgement of a new conversation and
its opt-out confirmation. Sent by a task in the worker (``herald.inbound.tasks``), never from
processing itself: processing only decides, inside its transaction, and the task sends after
commit.

Loop guard (RFC 3834): ``herald.inbound.loopguard`` refuses automatic messages, bounces, lists
and no-reply senders; ``claim_auto_answer`` allows one answer per address per
``INBOUND_AUTO_REPLY_HOURS``. Answers carry ``Auto-Submitted: auto-replied`` and go out with a
null envelope sender, so that a broken responder on the other side cannot answer them back.
"""

from __future__ import annotations

import datetime as dt
from email.utils import make_msgid

from django.conf import settings
from django.utils import timezone

from herald.accounts.models import Account
from herald.conversations import actions as conversations
from herald.conversations.models import Conversation, Direction, Message, MessageKind
from herald.inbound.models import AutoReplySent, InboundMessage
from herald.mailboxes.smtp import send_message
from herald.messaging.models import Template
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import Links, RenderedMessage, RenderError, render
from herald.messaging.writer import write_message

PURPOSES = ("ack", "optout", "confirm")  # confirm: an opt-out whose sender must confirm it


def claim_auto_answer(address: str, now: dt.datetime) -> bool:
    """Records that ``address`` gets an automatic answer now, unless it got one within the
    last ``INBOUND_AUTO_REPLY_HOURS``. Call inside the transaction that decides the answer."""
    key = address.strip().lower()[:320]
    if not key:
        return False
    since = now - dt.timedelta(hours=settings.INBOUND_AUTO_REPLY_HOURS)
    entry, created = AutoReplySent.objects.select_for_update().get_or_create(
        email_key=key, defaults={"sent_at": now}
    )
    if created:
        return True
    if entry.sent_at > since:
        return False
    entry.sent_at = now
    entry.save(update_fields=["sent_at"])
    return True


class AnswerError(Exception):
    """The answer cannot be sent (no template version, a variable missing, SMTP refused)."""


def _confirmation(row: InboundMessage) -> RenderedMessage:
    """The message asking the sender of an unauthenticated opt-out to confirm it (built in: it
    must exist whether or not the mailbox has templates, and say only this)."""
    from django.urls import reverse
    from django.utils import translation
    from django.utils.html import escape
    from django.utils.translation import gettext as _

    from herald.tracking.actions import CONFIRM_DAYS, optout_confirmation_token

    mailbox = row.mailbox
    token = optout_confirmation_token(row.from_address, mailbox.pk)
    link = settings.BASE_URL + reverse("tracking:confirm_optout", args=[token])
    sender = mailbox.from_name or mailbox.from_address
    with translation.override(Account.load().language or settings.LANGUAGE_CODE):
        subject = _("Confirm: no more emails from %(sender)s") % {"sender": sender}
        lines = [
            _("We received a request from %(address)s to stop receiving emails from %(sender)s.")
            % {"address": row.from_address, "sender": sender},
            _("If it was you, confirm it here (the link works for %(days)s days):")
            % {"days": CONFIRM_DAYS},
            link,
            _("If it was not you, ignore this message: nothing changes."),
        ]
    text = "\n\n".join(lines) + "\n"
    paragraphs = [f"<p>{escape(line)}</p>" for line in lines]
    paragraphs[2] = f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
    html = "".join(paragraphs)
    return RenderedMessage(subject=subject, html=html, text=text)


def build_answer(row: InboundMessage, purpose: str) -> tuple[bytes, str, str, RenderedMessage]:
    """The answer's bytes, its recipient, its Message-ID and the rendered message."""
    mailbox = row.mailbox
    if purpose == "confirm":
        return _write_answer(row, _confirmation(row))
    template_id = mailbox.ack_template_id if purpose == "ack" else mailbox.optout_template_id
    template = (
        Template.objects.filter(pk=template_id).select_related("current_version").first()
        if template_id
        else None
    )
    if template is None or template.current_version is None:
        raise AnswerError(f"the mailbox's {purpose} template is gone or has no saved version")
    conversation = _conversation_of(row)
    variables: dict[str, object] = {}
    if conversation is not None:
        variables = conversation.contact.variables()
    to = row.from_address
    variables["email"] = to
    try:
        rendered = render(
            compiled_version(template.current_version, mailbox.signature),
            variables,
            Account.load().variables(),
            Links(),
        )
    except RenderError as exc:
        raise AnswerError(str(exc)) from exc
    return _write_answer(row, rendered)


def _write_answer(
    row: InboundMessage, rendered: RenderedMessage
) -> tuple[bytes, str, str, RenderedMessage]:
    mailbox = row.mailbox
    to = row.from_address
    domain = mailbox.from_address.rpartition("@")[2]
    message_id = make_msgid(domain=domain or None)
    original = _original_message_id(row)
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if original:
        headers.update({"In-Reply-To": original, "References": original})
    raw = write_message(
        rendered,
        from_address=mailbox.from_address,
        from_name=mailbox.from_name,
        to=to,
        reply_to=mailbox.reply_to,
        message_id=message_id,
        date=timezone.now(),
        headers=headers,
    )
    return bytes(raw), to, message_id, rendered


def send_answer(row: InboundMessage, purpose: str) -> str:
    """Sends the answer and adds it to the conversation; raises AnswerError when it cannot."""
    from herald.mailboxes.smtp import SmtpError

    raw, to, message_id, rendered = build_answer(row, purpose)
    try:
        send_message(row.mailbox, raw, "", [to])  # null envelope sender (RFC 3834 3.3)
    except SmtpError as exc:
        raise AnswerError(str(exc)) from exc
    conversation = _conversation_of(row)
    if conversation is not None:
        conversations.add_message(
            conversation,
            conversations.NewMessage(
                kind=MessageKind.ACK,
                direction=Direction.OUT,
                message_id=message_id,
                in_reply_to=_original_message_id(row),
                from_address=row.mailbox.from_address,
                to_address=to,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                reason=f"automatic answer ({purpose})",
                at=timezone.now(),
                raw=raw,
            ),
        )
    return to


def _conversation_of(row: InboundMessage) -> Conversation | None:
    found = Message.objects.filter(inbound=row).select_related("conversation__contact").first()
    return found.conversation if found else None


def _original_message_id(row: InboundMessage) -> str:
    key = row.message_key
    return key if key.startswith("<") else ""

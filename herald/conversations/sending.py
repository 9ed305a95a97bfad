"""Sending the desk's outbound messages (agents' answers, forwards, agent-started mail): worker
side only, the web never waits on SMTP.

A message is stored ``queued``; after commit a task (``herald.conversations.tasks``) sends it at
once, and the worker's ``desk`` loop picks up whatever is due and not in hand: a deferred message
whose retry time came, a message whose task was lost, one whose worker died while sending (its
lease ran out). Taking a message is one conditional UPDATE, so two workers never send the same
one; a worker killed between the server's answer and the record sends it again after the lease:
the only duplicate there can be, as for campaigns.

The message is written once, at its first attempt, and kept (``raw``): every retry sends the same
bytes, and a supervisor later reads exactly what the customer got. It carries In-Reply-To and
References (so the customer's mail program threads it), a Reply-To with the message's own reply
token (so the customer's next reply lands in this conversation whatever it quotes), the mailbox's
DKIM signature, and goes to the conversation's CC (header) and BCC (envelope only) and the
mailbox's default BCC. A 4xx, a timeout or a refused connection is retried with the dialer's
backoff for ``RETRY_HOURS``; a 5xx fails the message with the server's words.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from herald.accounts.models import Account
from herald.campaigns import tokens
from herald.conversations import actions
from herald.conversations.models import ConversationEventKind, Message, SendState
from herald.dialer.dkim import DkimError, sign_for
from herald.inbound.tokens import make_reply_address
from herald.mailboxes.models import Mailbox
from herald.mailboxes.smtp import SmtpError, send_message
from herald.messaging.rendering import Attachment as RenderedAttachment
from herald.messaging.rendering import RenderedMessage
from herald.messaging.writer import write_message

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=120)  # a message being sent is another worker's after this
RETRY_HOURS = 24  # temporary failures are retried this long, then the message failed
QUEUED_GRACE = dt.timedelta(seconds=10)  # the task sends a queued message; the loop after this


def enqueue(message_id: int) -> None:
    """Asks a worker to send the message now (called after commit)."""
    from herald.conversations.tasks import send_desk_message

    try:
        send_desk_message.enqueue(message_id)
    except Exception:  # the desk loop sends it anyway: a queue hiccup must not fail the answer
        logger.exception("enqueueing a desk message failed", extra={"desk_message": message_id})


def claim(message_id: int, now: dt.datetime | None = None) -> bool:
    """Takes the message for sending (one UPDATE): True when this worker got it."""
    now = now or timezone.now()
    due = Q(send_state__in=[SendState.QUEUED, SendState.DEFERRED], due_at__lte=now) | Q(
        send_state=SendState.SENDING, lease_until__lt=now
    )
    return bool(
        Message.objects.filter(due, pk=message_id).update(
            send_state=SendState.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1
        )
    )


def due_messages(now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """The messages the loop should send: deferred ones due, queued ones no task took, and
    those whose worker died while sending (the ``message_outbox`` partial index)."""
    now = now or timezone.now()
    return list(
        Message.objects.filter(
            Q(send_state=SendState.DEFERRED, due_at__lte=now)
            | Q(send_state=SendState.QUEUED, due_at__lte=now - QUEUED_GRACE)
            | Q(send_state=SendState.SENDING, lease_until__lt=now)
        )
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )


def send_due() -> bool:
    """The desk loop's sending: every due message; True when there may be more."""
    due = due_messages()
    for message_id in due:
        send(message_id)
    return len(due) == 100


def send(message_id: int) -> str:
    """Sends one message if it is due and nobody else has it; returns its new state."""
    if not claim(message_id):
        return "not due"
    message = Message.objects.select_related("conversation", "conversation__mailbox", "author").get(
        pk=message_id
    )
    mailbox = message.conversation.mailbox
    try:
        raw = bytes(message.raw) if message.raw else _write(message, mailbox)
        if not message.raw:
            Message.objects.filter(pk=message.pk).update(raw=raw)
        recipients = list(
            dict.fromkeys(
                [
                    *actions.split_addresses(message.to_address),
                    *actions.split_addresses(message.cc),
                    *actions.split_addresses(message.bcc),
                    *[a.lower() for a in mailbox.bcc_addresses()],
                ]
            )
        )
        send_message(mailbox, raw, mailbox.envelope_from, recipients)
    except SmtpError as exc:
        return _failed(message, str(exc), permanent=exc.permanent)
    except (ValueError, DkimError) as exc:  # the message cannot be written: nothing to retry
        return _failed(message, str(exc), permanent=True)
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            send_state=SendState.SENT, sent_at=now, send_error="", lease_until=None, due_at=None
        )
        actions.event(
            message.conversation_id,
            ConversationEventKind.SENT,
            at=now,
            detail=message.to_address[:300],
            data={"message": message.pk},
        )
    logger.info("desk message sent", extra={"desk_message": message.pk})
    return SendState.SENT


def _failed(message: Message, words: str, *, permanent: bool) -> str:
    now = timezone.now()
    attempts = message.attempts  # read after the claim, which counted this attempt
    give_up = message.at + dt.timedelta(hours=RETRY_HOURS) <= now
    if permanent or give_up:
        state, kind, due = SendState.FAILED, ConversationEventKind.FAILED, None
        if give_up and not permanent:
            words = f"gave up after {attempts} attempts: {words}"
    else:
        from herald.dialer.sender import backoff  # the dialer's waits between retries

        state, kind, due = (
            SendState.DEFERRED,
            ConversationEventKind.DEFERRED,
            now + backoff(attempts),
        )
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            send_state=state, send_error=words[:1000], due_at=due, lease_until=None
        )
        actions.event(
            message.conversation_id,
            kind,
            at=now,
            detail=words[:1000],
            data={"message": message.pk, "attempt": attempts},
        )
    logger.warning(
        "desk message not sent", extra={"desk_message": message.pk, "state": state, "error": words}
    )
    return str(state)


def _write(message: Message, mailbox: Mailbox) -> bytes:
    """The message's bytes: headers, text and HTML parts, attachments, DKIM signature."""
    token = tokens.desk_token(message.pk)
    domain = mailbox.from_address.rpartition("@")[2]
    reply_local, _at, reply_domain = (mailbox.reply_to or mailbox.from_address).rpartition("@")
    headers: dict[str, str] = {}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    references = " ".join(
        dict.fromkeys(
            [*message.references.split(), message.in_reply_to]
            if message.in_reply_to
            else message.references.split()
        )
    )
    if references:
        headers["References"] = references
    company = Account.load().company_name
    if company:
        headers["Organization"] = company
    parts = tuple(
        RenderedAttachment(a.filename, a.content_type, bytes(a.data))
        for a in message.attachments.filter(omitted=False).order_by("id")
    )
    rendered = RenderedMessage(message.subject, message.html, message.text, parts)
    now = timezone.now()
    raw = bytes(
        write_message(
            rendered,
            from_address=mailbox.from_address,
            from_name=mailbox.from_name,
            to=message.to_address,
            cc=message.cc,
            reply_to=make_reply_address(reply_local, reply_domain, token),
            message_id=tokens.desk_message_id_header(token, domain),
            date=now,
            headers=headers,
        )
    )
    Message.objects.filter(pk=message.pk).update(
        message_id=tokens.desk_message_id_header(token, domain)
    )
    return sign_for(mailbox, raw, now)

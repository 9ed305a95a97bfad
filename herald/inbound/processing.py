"""Processing stored inbound messages: classify, find the delivery each one answers, and act.

One transaction per message. Whatever goes wrong with one message (unreadable bytes, a bug, a
constraint) rolls back that message's work only and quarantines it with its error; the next
message is processed as usual. What each kind does:

- bounce, hard: the delivery is bounced, an Event, the address suppressed, the campaign's
  status mapping "bounced"; soft: an Event and a soft-bounce count, the address suppressed after
  ``INBOUND_SOFT_BOUNCE_LIMIT`` of them within ``INBOUND_SOFT_BOUNCE_DAYS``; a delay warning is
  an Event only (the remote server is still trying);
- complaint: the address suppressed, an Event;
- autoreply: an Event on the delivery; no conversation, never answered;
- optout: when it carries the reply token of its delivery or the receiving server authenticated
  its sender (``herald.inbound.authentication``), the sender (and the address the delivery went
  to) suppressed, an Event, the status mapping "unsubscribed", the mailbox's opt-out confirmation
  if it has one; otherwise nothing is suppressed and the sender is asked to confirm by a link;
- reply: the contact's open conversation on the mailbox (created on the first reply) gets the
  message, linked to its delivery; an Event "replied" and the status mapping "replied";
- new: the same without a delivery, the contact found by address or created; a new
  conversation may get the mailbox's acknowledgement.

A bounce is matched to its delivery by the reply token in the returned headers, by the
returned Message-ID, or else by its recipient among the deliveries of the mailbox's campaigns.
A bounce or complaint matched to no delivery suppresses only addresses that are contacts'
addresses: a bounce for an address Herald never wrote to is backscatter, not news.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from herald.campaigns import actions as campaign_actions
from herald.campaigns import tokens
from herald.campaigns.models import (
    Campaign,
    Delivery,
    DeliveryState,
    Event,
    EventKind,
)
from herald.contacts.models import Address, Suppression, SuppressionReason, SuppressionSource
from herald.conversations import actions as conversations
from herald.conversations.models import (
    Conversation,
    ConversationStatus,
    Direction,
    MessageKind,
)
from herald.inbound import content as inbound_content
from herald.inbound import mime
from herald.inbound.authentication import sender_authenticated
from herald.inbound.classify import Classification, classify
from herald.inbound.loopguard import auto_answer_refusal
from herald.inbound.models import InboundMessage, InboundStatus, SoftBounce
from herald.inbound.optout import DEFAULT_OPTOUT_KEYWORDS

logger = logging.getLogger(__name__)

PROCESS_BATCH = 50  # messages per transaction (each in its own savepoint)
RECENT_CAMPAIGNS = 50  # a bounce without token is looked for in this many recent campaigns


def optout_keywords() -> tuple[str, ...]:
    """The configured opt-out keywords (``HERALD_INBOUND_OPTOUT_KEYWORDS``), else the default."""
    return tuple(settings.INBOUND_OPTOUT_KEYWORDS) or DEFAULT_OPTOUT_KEYWORDS


@dataclass
class Outcome:
    """What processing one message decided; ``answers`` are sent after commit."""

    delivery: Delivery | None = None
    notes: list[str] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)  # (inbound id, purpose)


def process_pending(mailbox_id: int, limit: int = 1000) -> int:
    """Processes the mailbox's stored, unprocessed messages, oldest first; returns how many.

    Messages are processed ``PROCESS_BATCH`` to a transaction, each in a savepoint of its own:
    one commit (one disk flush) per batch instead of per message, and a message that fails
    still rolls back alone. Should the batch's transaction itself fail, its messages are
    processed again one transaction each.
    """
    ids = list(
        InboundMessage.objects.filter(mailbox_id=mailbox_id, status=InboundStatus.RECEIVED)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for start in range(0, len(ids), PROCESS_BATCH):
        batch = ids[start : start + PROCESS_BATCH]
        try:
            with transaction.atomic():
                for message_id in batch:
                    process_message(message_id)
        except DatabaseError:
            logger.exception("inbound batch failed; processing its messages one by one")
            for message_id in batch:
                process_message(message_id)
    return len(ids)


def process_message(message_id: int) -> str:
    """Processes one stored message; returns its new status (quarantined on any failure).
    Inside a transaction, it runs in a savepoint: its failure rolls back its own work only."""
    try:
        with transaction.atomic():
            row = (
                InboundMessage.objects.select_for_update(of=("self",))
                .select_related("mailbox")
                .get(pk=message_id)
            )
            if row.status != InboundStatus.RECEIVED:
                return str(row.status)
            outcome = _process(row)
            answers = outcome.answers
            if answers:
                transaction.on_commit(lambda: _enqueue_answers(answers))
    except Exception as exc:
        logger.warning(
            "inbound message quarantined", extra={"inbound": message_id, "error": str(exc)}
        )
        quarantine(message_id, exc)
        return InboundStatus.QUARANTINED
    return InboundStatus.PROCESSED


def quarantine(message_id: int, exc: BaseException) -> None:
    """Marks a message quarantined with the error (and where it happened, for a bug report)."""
    where = traceback.extract_tb(exc.__traceback__)[-3:] if exc.__traceback__ else []
    trail = "".join(f"\n  at {f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in where)
    with transaction.atomic():
        InboundMessage.objects.filter(pk=message_id).update(
            status=InboundStatus.QUARANTINED,
            error=f"{exc.__class__.__name__}: {exc}{trail}"[:5000],
            processed_at=timezone.now(),
        )


def _enqueue_answers(answers: list[tuple[int, str]]) -> None:
    from herald.inbound.tasks import send_auto_answer

    for inbound_id, purpose in answers:
        send_auto_answer.enqueue(inbound_id, purpose)


def _process(row: InboundMessage) -> Outcome:
    raw = bytes(row.raw)
    found = classify(raw, optout_keywords=optout_keywords())
    message = mime.parse(raw)
    row.kind, row.reason = found.kind, found.reason
    row.from_address = (found.from_address or row.from_address)[:320]
    row.subject = found.subject[:500]
    outcome = Outcome(delivery=find_delivery(found, row.mailbox_id))
    now = timezone.now()
    handler = {
        "bounce": _bounce,
        "complaint": _complaint,
        "autoreply": _autoreply,
        "optout": _optout if _optout_proven(found, message, outcome) else _optout_unproven,
    }.get(found.kind, _conversation)
    handler(row, found, message, outcome, now)
    delivery = outcome.delivery
    row.delivery_id = delivery.pk if delivery else None
    row.reason = "; ".join([found.reason, *outcome.notes])[:300]
    row.status, row.processed_at, row.error = InboundStatus.PROCESSED, now, ""
    row.save(
        update_fields=[
            "kind",
            "reason",
            "from_address",
            "subject",
            "delivery",
            "status",
            "processed_at",
            "error",
        ]
    )
    return outcome


# -- finding the delivery ----------------------------------------------------------------------


def find_delivery(found: Classification, mailbox_id: int) -> Delivery | None:
    """The delivery a message answers or reports on, or None."""
    candidates: list[int | None] = []
    if found.reply_token:
        candidates.append(tokens.delivery_id(found.reply_token))
    for value in (found.original_message_id, found.in_reply_to, *reversed(found.references)):
        if value:
            candidates.append(tokens.delivery_id_from_message_id(value))
    for delivery_id in dict.fromkeys(c for c in candidates if c):
        delivery = Delivery.objects.filter(pk=delivery_id).select_related("campaign").first()
        if delivery is not None:
            return delivery
    if found.kind in {"bounce", "complaint"}:
        report = found.bounce or found.complaint
        return _by_recipient(report.recipients if report else (), mailbox_id)
    return None


def _by_recipient(recipients: Iterable[str], mailbox_id: int) -> Delivery | None:
    # Delivery has no index on email (a launch inserts millions of rows and pays per index):
    # this scans the deliveries of the mailbox's recent campaigns, for bounces without token
    # or returned headers only, which are rare.
    wanted = [r for r in recipients if r][:5]
    if not wanted:
        return None
    campaign_ids = list(
        Campaign.objects.filter(mailbox_id=mailbox_id)
        .exclude(launched_at=None)
        .order_by("-launched_at")
        .values_list("id", flat=True)[:RECENT_CAMPAIGNS]
    )
    if not campaign_ids:
        return None
    match = Q()
    for address in wanted:
        match |= Q(email__iexact=address)
    return (
        Delivery.objects.filter(
            match,
            campaign_id__in=campaign_ids,
            state__in=[DeliveryState.SENT, DeliveryState.BOUNCED],
        )
        .select_related("campaign")
        .order_by("-sent_at")
        .first()
    )


# -- effects ----------------------------------------------------------------------------------


def _event(
    delivery: Delivery | None,
    kind: str,
    now: dt.datetime,
    detail: str = "",
    data: dict | None = None,
) -> None:
    if delivery is None:
        return
    Event.objects.create(
        campaign_id=delivery.campaign_id,
        delivery=delivery,
        kind=kind,
        at=now,
        detail=detail[:1000],
        data=data,
    )


def _suppress(values: Iterable[str], reason: str, source: str, note: str) -> list[str]:
    """Suppresses each address (ignoring those already suppressed); returns them lower case."""
    keys = list(dict.fromkeys(v.strip().lower() for v in values if v and "@" in v))
    Suppression.objects.bulk_create(
        [Suppression(value=k[:320], reason=reason, source=source, note=note[:300]) for k in keys],
        ignore_conflicts=True,
    )
    return keys


def _known(addresses_: Iterable[str]) -> list[str]:
    """The addresses among these that belong to a contact."""
    keys = {a.lower() for a in addresses_ if a}
    return list(Address.objects.filter(email_key__in=keys).values_list("email_key", flat=True))


def _status_map(delivery: Delivery | None, outcome: str) -> None:
    if delivery is not None:
        campaign_actions.apply_status_map(delivery.campaign, outcome, [delivery.contact_id])


def _bounce(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    bounce = found.bounce
    assert bounce is not None  # noqa: S101 - classify() sets it for this kind
    delivery = outcome.delivery
    words = " ".join(filter(None, [bounce.status, bounce.diagnostic])) or found.reason
    data = {"status": bounce.status, "recipients": list(bounce.recipients), "inbound": row.pk}
    if bounce.delay_warning:
        _event(delivery, EventKind.DELAYED, now, words, data)
        return
    targets = [delivery.email] if delivery else _known(bounce.recipients)
    if bounce.type == "hard":
        if delivery is not None:
            changed = (
                Delivery.objects.filter(pk=delivery.pk)
                .exclude(state=DeliveryState.BOUNCED)
                .update(state=DeliveryState.BOUNCED, reason=f"bounced: {words}"[:300])
            )
            _event(delivery, EventKind.BOUNCED, now, words, data)
            if changed:
                _status_map(delivery, "bounced")
        note = f"{delivery.campaign.name}: {words}" if delivery else f"bounce: {words}"
        if _suppress(targets, SuppressionReason.HARD_BOUNCE, SuppressionSource.DELIVERY, note):
            outcome.notes.append("suppressed")
        return
    _event(delivery, EventKind.SOFT_BOUNCED, now, words, data)
    limit, days = settings.INBOUND_SOFT_BOUNCE_LIMIT, settings.INBOUND_SOFT_BOUNCE_DAYS
    since = now - dt.timedelta(days=days)
    for key in {t.lower() for t in targets}:
        SoftBounce.objects.create(email_key=key[:320], at=now)
        count = SoftBounce.objects.filter(email_key=key, at__gte=since).count()
        if count >= limit:
            _suppress(
                [key],
                SuppressionReason.SOFT_BOUNCES,
                SuppressionSource.DELIVERY,
                f"{count} soft bounces within {days} days; last: {words}",
            )
            outcome.notes.append(f"suppressed after {count} soft bounces")


def _complaint(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    complaint = found.complaint
    assert complaint is not None  # noqa: S101 - classify() sets it for this kind
    delivery = outcome.delivery
    targets = [delivery.email] if delivery else list(complaint.recipients)
    _event(delivery, EventKind.COMPLAINED, now, complaint.feedback_type, {"inbound": row.pk})
    note = f"feedback report ({complaint.feedback_type})"
    if _suppress(targets, SuppressionReason.COMPLAINT, SuppressionSource.DELIVERY, note):
        outcome.notes.append("suppressed")


def _autoreply(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    _event(outcome.delivery, EventKind.AUTOREPLIED, now, found.reason, {"inbound": row.pk})


def _optout(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    delivery = outcome.delivery
    targets = [found.from_address or "", delivery.email if delivery else ""]
    note = f"replied {found.optout_keyword!r}"
    if delivery is not None:
        note = f"{delivery.campaign.name}: {note}"
    _suppress(targets, SuppressionReason.OPT_OUT, SuppressionSource.CONVERSATION, note)
    outcome.notes.append("suppressed")
    _event(
        delivery,
        EventKind.UNSUBSCRIBED,
        now,
        note,
        {"keyword": found.optout_keyword, "inbound": row.pk},
    )
    _status_map(delivery, "unsubscribed")
    if row.mailbox.optout_template_id:
        _answer(row, found, message, outcome, now, purpose="optout")


def _optout_proven(found: Classification, message: Message, outcome: Outcome) -> bool:
    """Whether an opt-out may be acted on: it carries the reply token of the delivery it
    answers (only its recipient has it), or the receiving server authenticated its sender. A
    From address alone proves nothing: anyone could unsubscribe anyone by writing it."""
    delivery = outcome.delivery
    if (
        delivery is not None
        and found.reply_token
        and tokens.delivery_id(found.reply_token) == delivery.pk
    ):
        return True
    how = sender_authenticated(message, found.from_address or "")
    if how is not None:
        outcome.notes.append(f"sender authenticated: {how}")
        return True
    return False


def _optout_unproven(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    """An opt-out whose sender nobody vouches for: nothing is suppressed; its sender is asked
    to confirm with a link (the real owner of the address clicks it; a forger never sees it)."""
    outcome.notes.append(
        "not acted on: no reply token and the sender was not authenticated "
        "(no aligned SPF, DKIM or DMARC pass)"
    )
    _answer(row, found, message, outcome, now, purpose="confirm")


def _conversation(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
) -> None:
    """A reply to a delivery, to an agent's answer or another message of a conversation, or new.

    A message that names a conversation (by the reply token of an agent's answer or by the
    Message-IDs it answers) joins it while it is active; one arriving after it was closed starts
    a new conversation for the same contact, linked to the closed one."""
    delivery = outcome.delivery
    sender = found.from_address or row.from_address
    thread = None
    contact = None
    if delivery is not None:
        contact = delivery.contact if _contact_exists(delivery.contact_id) else None
    if contact is None:
        thread = _desk_thread(found)
    known = thread is not None
    if thread is not None and thread.status == ConversationStatus.CLOSED:
        contact, thread = thread.contact, None
    if contact is None and thread is None:
        if not sender:
            raise ValueError("the message has no sender address (From)")
        contact = conversations.contact_for_address(
            sender, conversations.display_name(mime.header(message, "From"))
        )
    created = False
    if thread is not None:
        conversation = thread
    else:
        assert contact is not None  # noqa: S101
        conversation, created = conversations.open_conversation(
            row.mailbox, contact, subject=found.subject, at=now, delivery=delivery
        )
    kind = MessageKind.REPLY if delivery is not None else MessageKind.NEW
    extracted = inbound_content.extract(
        message, max_attachment_bytes=settings.INBOUND_MAX_ATTACHMENT_MB * 1024 * 1024
    )
    conversations.add_message(
        conversation,
        conversations.NewMessage(
            kind=kind,
            direction=Direction.IN,
            message_id=found.message_id or "",
            in_reply_to=found.in_reply_to or "",
            from_address=sender or "",
            to_address=mime.header(message, "To"),
            subject=found.subject,
            text=found.reply_text,
            reason=found.reason,
            at=now,
            cc=mime.header(message, "Cc"),
        ),
        extracted,
        inbound_id=row.pk,
        delivery=delivery,
    )
    if delivery is not None:
        _event(delivery, EventKind.REPLIED, now, found.subject, {"inbound": row.pk})
        _status_map(delivery, "replied")
    if found.kind == "reply" and delivery is None and not known:
        row.kind = "new"  # it names a message Herald does not know: a new conversation
    if created and row.mailbox.ack_template_id:
        _answer(row, found, message, outcome, now, purpose="ack")


def _desk_thread(found: Classification) -> Conversation | None:
    """The conversation a message answers: by the reply token of an agent's answer, else by the
    Message-IDs it names (an agent's answer, an acknowledgement, an earlier message)."""
    if found.reply_token:
        message_id = tokens.desk_message_id(found.reply_token)
        if message_id is not None:
            conversation = Conversation.objects.filter(messages__pk=message_id).first()
            if conversation is not None:
                return conversation
    return conversations.thread_of([found.in_reply_to or "", *reversed(found.references)])


def _contact_exists(contact_id: int) -> bool:
    from herald.contacts.models import Contact

    return Contact.objects.filter(pk=contact_id).exists()


def _answer(
    row: InboundMessage,
    found: Classification,
    message: Message,
    outcome: Outcome,
    now: dt.datetime,
    *,
    purpose: str,
) -> None:
    """Queues an automatic answer unless the loop guard refuses it (the reason is noted)."""
    from herald.inbound.replies import claim_auto_answer

    refusal = auto_answer_refusal(message, found.kind, found.from_address)
    if refusal is None and not claim_auto_answer(found.from_address or "", now):
        refusal = f"answered within {settings.INBOUND_AUTO_REPLY_HOURS} h already"
    if refusal:
        outcome.notes.append(f"no {purpose} answer: {refusal}")
        return
    outcome.notes.append(f"{purpose} answer queued")
    outcome.answers.append((row.pk, purpose))

"""Changes to conversations: mail coming in (called by inbound processing, inside its transaction)
and the agent desk's operations (take, assign, answer, forward, note, pend, snooze, close, start a
conversation), called the same way by pages, API and tests.

Every change of a conversation appends a ``ConversationEvent`` in the same transaction. Sending is
never done here: an answer is stored ``queued`` and the worker sends it after commit
(``herald.conversations.sending``). Configuration (mailbox members, wrap-up reasons) is audited
like every other configuration change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.accounts.models import Role, User
from herald.audit.actions import diff, record
from herald.audit.actors import Actor
from herald.campaigns.models import Delivery
from herald.contacts import addresses
from herald.contacts.models import Address, AddressState, Contact, is_suppressed
from herald.conversations import compose
from herald.conversations.models import (
    ACTIVE_STATUSES,
    Attachment,
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    ConversationRead,
    ConversationStatus,
    Direction,
    MailboxMember,
    Message,
    MessageKind,
    Origin,
    SendState,
    WrapUpReason,
)
from herald.conversations.search import index_text, new_index_text
from herald.inbound.content import Content
from herald.mailboxes.models import DeskMode, Mailbox
from herald.routing import actions as routing

MAX_ADDRESSES = 50  # CC, BCC or forward recipients of one message
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # all attachments of one answer together (a usual limit)


class Refused(Exception):  # noqa: N818 - the desk's word for an operation it will not do
    """The desk will not do this now; ``message`` says why, ``link`` where to look (the
    conversation already active, for instance). ``status`` is the HTTP status the API answers."""

    def __init__(self, message: str, *, status: int = 409, link: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.link = link


# -- mail coming in (inbound processing) -------------------------------------------------------


def contact_for_address(address: str, display_name: str = "") -> Contact:
    """The contact having this address (the oldest one if several), or a new contact with it."""
    key = addresses.key(address)
    found = (
        Address.objects.filter(email_key=key).order_by("contact_id").values_list("contact_id")[:1]
    )
    contact = Contact.objects.filter(pk__in=found).first()
    if contact is not None:
        return contact
    first, _sep, last = display_name.strip().strip('"').partition(" ")
    contact = Contact.objects.create(first_name=first[:150], last_name=last[:150])
    normalized, error = addresses.validate(address)
    Address.objects.create(
        contact=contact,
        position=1,
        email=normalized[:320],
        email_key=addresses.key(normalized)[:320],
        state=AddressState.VALID if error is None else AddressState.INVALID,
        error=(error or "")[:300],
    )
    return contact


def display_name(from_header: str) -> str:
    """The display name of a From header ("Ann Lee <ann@x>" -> "Ann Lee")."""
    pairs = getaddresses([from_header])
    return pairs[0][0] if pairs else ""


def event(
    conversation: Conversation | int,
    kind: str,
    *,
    user: User | None = None,
    label: str = "",
    detail: str = "",
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> ConversationEvent:
    """Appends one event to a conversation's history."""
    return ConversationEvent.objects.create(
        conversation_id=conversation if isinstance(conversation, int) else conversation.pk,
        kind=kind,
        at=at or timezone.now(),
        actor=user,
        actor_label=(label or (user.email if user else "system"))[:200],
        detail=detail[:1000],
        data=data,
    )


def open_conversation(
    mailbox: Mailbox,
    contact: Contact,
    *,
    subject: str,
    at: dt.datetime,
    delivery: Delivery | None = None,
) -> tuple[Conversation, bool]:
    """The contact's active conversation on this mailbox, or a new one (following the contact's
    last closed one there, whose history it shows); and whether it is new."""
    found = Conversation.objects.filter(
        mailbox=mailbox, contact=contact, status__in=ACTIVE_STATUSES
    ).first()
    if found is not None:
        return found, False
    previous = (
        Conversation.objects.filter(mailbox=mailbox, contact=contact)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    try:
        with transaction.atomic():  # a savepoint: the unique active conversation may race
            created = Conversation.objects.create(
                mailbox=mailbox,
                contact=contact,
                subject=subject[:500],
                campaign_id=delivery.campaign_id if delivery else None,
                delivery=delivery,
                created_at=at,
                last_message_at=at,
                previous_id=previous,
                search_text=new_index_text(
                    mailbox.pk, subject, contact_words(contact), _campaign_name(delivery)
                ),
            )
    except IntegrityError:
        return Conversation.objects.get(
            mailbox=mailbox, contact=contact, status__in=ACTIVE_STATUSES
        ), False
    event(created, ConversationEventKind.CREATED, at=at, detail=subject[:200])
    return created, True


def _campaign_name(delivery: Delivery | None) -> str:
    return delivery.campaign.name if delivery is not None else ""


def contact_words(contact: Contact) -> str:
    """What a search finds a contact by: names and addresses."""
    emails = " ".join(contact.addresses.values_list("email", flat=True))
    return f"{contact.first_name} {contact.last_name} {emails}"


@dataclass(frozen=True)
class NewMessage:
    kind: MessageKind
    direction: Direction
    message_id: str
    in_reply_to: str
    from_address: str
    to_address: str
    subject: str
    text: str
    reason: str
    at: dt.datetime
    cc: str = ""
    raw: bytes = b""
    html: str = ""  # an automatic answer's HTML (received mail brings its own, in content)


def add_message(
    conversation: Conversation,
    new: NewMessage,
    content: Content | None = None,
    *,
    inbound_id: int | None = None,
    delivery: Delivery | None = None,
) -> Message:
    """Adds a received (or automatic) message and its attachments to a conversation, moves the
    conversation up, and for a customer's message: marks it waiting, takes its CC as the
    conversation's, and opens it again when it was pending or snoozed."""
    message = Message.objects.create(
        conversation=conversation,
        direction=new.direction,
        kind=new.kind,
        inbound_id=inbound_id,
        delivery=delivery,
        message_id=new.message_id[:500],
        in_reply_to=new.in_reply_to[:500],
        from_address=new.from_address[:320],
        to_address=new.to_address[:1000],
        cc=new.cc[:2000],
        subject=new.subject[:500],
        text=new.text,
        body=content.text if content else new.text,
        html=content.html if content else new.html,
        reason=new.reason[:300],
        at=new.at,
        raw=new.raw,
        send_state=SendState.SENT if new.direction == Direction.OUT else "",
        sent_at=new.at if new.direction == Direction.OUT else None,
    )
    if content and content.attachments:
        Attachment.objects.bulk_create(
            Attachment(
                message=message,
                filename=part.filename,
                content_type=part.content_type,
                content_id=part.content_id,
                size=part.size,
                data=part.data,
                omitted=part.omitted,
            )
            for part in content.attachments
        )
    Conversation.objects.filter(pk=conversation.pk, last_message_at__lt=new.at).update(
        last_message_at=new.at
    )
    if new.direction == Direction.IN:
        _customer_wrote(conversation, new, message)
    return message


def _customer_wrote(conversation: Conversation, new: NewMessage, message: Message) -> None:
    row = Conversation.objects.select_for_update().get(pk=conversation.pk)
    changed = ["last_inbound_at", "search_text"]
    row.last_inbound_at = new.at
    row.search_text = index_text(row.search_text, new.subject, new.from_address, new.text)
    if row.waiting_since is None:
        row.waiting_since = new.at
        changed.append("waiting_since")
    own = _own_addresses(row.mailbox)
    received = [a for a in split_addresses(new.cc) if a.lower() not in own]
    if received:
        row.received_cc = row.cc = ", ".join(received)[:2000]
        changed += ["received_cc", "cc"]
    if row.status in (ConversationStatus.PENDING, ConversationStatus.SNOOZED):
        was = row.status
        row.status, row.snoozed_until = ConversationStatus.OPEN, None
        changed += ["status", "snoozed_until"]
        event(row, ConversationEventKind.REOPENED, at=new.at, detail=f"the customer wrote ({was})")
        _back_to_queue_when_full(row, changed, at=new.at)
    row.save(update_fields=changed)
    routing.request_routing(row.mailbox)
    event(
        row,
        ConversationEventKind.RECEIVED,
        at=new.at,
        label=new.from_address,
        detail=new.subject[:200],
        data={"message": message.pk},
    )


def _back_to_queue_when_full(row: Conversation, changed: list[str], *, at: dt.datetime) -> None:
    """A customer conversation opening again (the customer wrote, a snooze ended) while its
    agent is at capacity goes back to the mailbox's queue: capacity is never exceeded."""
    if row.assignee is None:
        return
    refusal = routing.room_refusal(row.mailbox_id, row.assignee, adding=row)
    if refusal:
        row.assignee, row.assigned_at = None, None
        changed += ["assignee", "assigned_at"]
        detail = f"{refusal} {_('Back to the queue.')}"
        event(
            row, ConversationEventKind.UNASSIGNED, label=routing.ROUTER_LABEL, detail=detail, at=at
        )


def _own_addresses(mailbox: Mailbox) -> set[str]:
    return {a.lower() for a in (mailbox.from_address, mailbox.reply_to) if a}


def thread_of(message_ids: list[str]) -> Conversation | None:
    """The conversation holding one of these Message-IDs (a reply to an earlier message of a
    conversation: an acknowledgement, an agent's answer, an earlier reply), newest first."""
    wanted = [m for m in message_ids if m][:20]
    if not wanted:
        return None
    found = (
        Message.objects.filter(message_id__in=wanted)
        .select_related("conversation")
        .order_by("-id")
        .first()
    )
    return found.conversation if found else None


# -- addresses -----------------------------------------------------------------------------------


def split_addresses(value: str) -> list[str]:
    """The addresses of a header or a form field ("Ann <a@x>, b@y; c@z"), lower-cased, once."""
    pairs = getaddresses([value.replace(";", ",")])
    return list(dict.fromkeys(a.strip().lower() for _n, a in pairs if a and "@" in a))


def clean_addresses(value: str, what: str) -> list[str]:
    """Addresses typed by an agent, validated; ValidationError names the one to fix."""
    found = split_addresses(value)
    leftover = [w for w in value.replace(";", ",").split(",") if w.strip() and "@" not in w]
    if leftover:
        raise ValidationError(
            {what: _("%(value)s is not an email address.") % {"value": leftover[0].strip()}}
        )
    if len(found) > MAX_ADDRESSES:
        raise ValidationError({what: _("At most %(n)d addresses.") % {"n": MAX_ADDRESSES}})
    for address in found:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {what: _("%(value)s is not an email address.") % {"value": address}}
            ) from None
    return found


# -- who works where ---------------------------------------------------------------------------


def is_manager(user: User) -> bool:
    return user.has_role(Role.MANAGER)


def is_member(user: User, mailbox_id: int) -> bool:
    return MailboxMember.objects.filter(mailbox_id=mailbox_id, user=user).exists()


def may_answer(user: User, conversation: Conversation) -> str | None:
    """Why ``user`` may not answer this conversation now (None: they may)."""
    mailbox = conversation.mailbox
    if not is_manager(user) and not is_member(user, mailbox.pk):
        return _("You do not work this mailbox.")
    if mailbox.desk_mode == DeskMode.ASSIGNMENT and conversation.assignee_id != user.pk:
        if conversation.assignee_id is None:
            return _("Take the conversation before answering.")
        return _("%(name)s holds this conversation.") % {"name": conversation.assignee}
    return None


@transaction.atomic
def do_set_members(
    actor: Actor, users: Sequence[User], mailboxes: Sequence[Mailbox], *, add: bool
) -> int:
    """Adds (or removes) each of ``users`` to (from) each of ``mailboxes`` in one step;
    returns how many memberships changed."""
    changed = 0
    for mailbox in mailboxes:
        for user in users:
            if add:
                _member, created = MailboxMember.objects.get_or_create(mailbox=mailbox, user=user)
                changed += created
                if created:
                    record(actor, "mailbox.member_add", mailbox, {"member": [None, user.email]})
                    routing.request_routing(mailbox)
            else:
                deleted, _kinds = MailboxMember.objects.filter(mailbox=mailbox, user=user).delete()
                changed += deleted
                if deleted:
                    record(actor, "mailbox.member_remove", mailbox, {"member": [user.email, None]})
    return changed


UNCHANGED = object()  # an argument left out: the value stays


@transaction.atomic
def do_set_member_limit(
    actor: Actor,
    member: MailboxMember,
    max_outbound: int | object | None = UNCHANGED,
    *,
    capacity: int | object | None = UNCHANGED,
) -> None:
    """Sets an agent's own limits in a mailbox (None: the mailbox's): open outbound
    conversations, and open customer conversations held at once (routing's capacity)."""
    changes = {}
    for name, value in (("max_outbound", max_outbound), ("capacity", capacity)):
        if value is UNCHANGED:
            continue
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValidationError({name: _("At least 1, or empty for the mailbox's setting.")})
        before = getattr(member, name)
        if before != value:
            setattr(member, name, value)
            changes[f"{name} ({member.user.email})"] = [before, value]
    if changes:
        member.save(update_fields=["max_outbound", "capacity"])
        record(actor, "mailbox.member_limit", member.mailbox, changes)
        routing.request_routing(member.mailbox)


@transaction.atomic
def do_save_wrapup_reason(
    actor: Actor,
    reason: WrapUpReason | None,
    *,
    mailbox: Mailbox,
    name: str,
    active: bool = True,
    disposition_code: str | None = None,
) -> WrapUpReason:
    """Creates or changes a wrap-up reason of a mailbox (a reason in use is deactivated rather
    than deleted, so that past counts keep their name). ``disposition_code``: what closing
    with it reports (herald.dispositions); None keeps it, "" clears it."""
    from herald.dispositions.actions import clean_code

    name = " ".join(name.split())[:100]
    if not name:
        raise ValidationError({"name": _("Give the reason a name.")})
    if disposition_code:
        disposition_code = clean_code(disposition_code)
    clash = WrapUpReason.objects.filter(mailbox=mailbox, name__iexact=name)
    if reason is not None:
        clash = clash.exclude(pk=reason.pk)
    if clash.exists():
        raise ValidationError({"name": _("This mailbox already has that reason.")})
    if reason is None:
        reason = WrapUpReason.objects.create(
            mailbox=mailbox, name=name, active=active, disposition_code=disposition_code or ""
        )
        record(actor, "wrapup_reason.create", reason, {"name": [None, name]})
        return reason
    before = {
        "name": reason.name,
        "active": reason.active,
        "disposition_code": reason.disposition_code,
    }
    reason.name, reason.active = name, active
    if disposition_code is not None:
        reason.disposition_code = disposition_code
    reason.save(update_fields=["name", "active", "disposition_code"])
    after = {"name": name, "active": active, "disposition_code": reason.disposition_code}
    changes = diff(before, after)
    if changes:
        record(actor, "wrapup_reason.change", reason, changes)
    return reason


# -- the desk's operations ---------------------------------------------------------------------


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("mailbox", "contact", "assignee")
        .get(pk=conversation.pk)
    )


@transaction.atomic
def do_take(user: User, conversation: Conversation) -> Conversation:
    """The agent takes an unassigned conversation. Of two agents taking it at once exactly one
    gets it (one conditional UPDATE); the other is refused with who did."""
    if conversation.mailbox.desk_mode != DeskMode.ASSIGNMENT:
        raise Refused(_("In an open mailbox nobody takes conversations: answer it."))
    if not is_manager(user) and not is_member(user, conversation.mailbox_id):
        raise Refused(_("You do not work this mailbox."), status=403)
    row = _locked(conversation)  # takers of one conversation queue here, then one gets it
    if row.assignee_id is None:
        refusal = routing.room_refusal(row.mailbox_id, user, adding=row)
        if refusal:
            raise Refused(refusal)
    taken = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=user, assigned_at=timezone.now()
    )
    if not taken:
        holder = (
            Conversation.objects.filter(pk=conversation.pk)
            .select_related("assignee")
            .values_list("assignee__email", "assignee__name")
            .first()
        )
        name = (holder[1] or holder[0]) if holder and holder[0] else _("someone")
        if holder and holder[0] == user.email:
            return _locked(conversation)
        raise Refused(_("%(name)s took this conversation first.") % {"name": name})
    event(conversation, ConversationEventKind.TAKEN, user=user)
    return _locked(conversation)


@transaction.atomic
def do_assign(actor: User, conversation: Conversation, agent: User | None) -> Conversation:
    """A manager assigns (or reassigns, or with None unassigns) a conversation to a member of its
    mailbox or to themselves."""
    if not is_manager(actor):
        raise Refused(_("Only managers assign conversations."), status=403)
    row = _locked(conversation)
    if agent is not None and not (
        agent.is_active and (agent.pk == actor.pk or is_member(agent, row.mailbox_id))
    ):
        raise ValidationError(
            {"agent": _("%(name)s does not work this mailbox.") % {"name": agent}}
        )
    if row.assignee_id == (agent.pk if agent else None):
        return row
    if agent is not None:
        refusal = routing.room_refusal(row.mailbox_id, agent, adding=row)
        if refusal:
            raise ValidationError({"agent": refusal})
    before = row.assignee
    row.assignee, row.assigned_at = agent, (timezone.now() if agent else None)
    row.save(update_fields=["assignee", "assigned_at"])
    routing.request_routing(row.mailbox)
    if agent is None:
        event(row, ConversationEventKind.UNASSIGNED, user=actor, detail=str(before or ""))
    else:
        detail = f"{before} → {agent}" if before else str(agent)
        event(
            row, ConversationEventKind.ASSIGNED, user=actor, detail=detail, data={"agent": agent.pk}
        )
    return row


@transaction.atomic
def do_set_status(
    user: User,
    conversation: Conversation,
    status: str,
    *,
    snoozed_until: dt.datetime | None = None,
) -> Conversation:
    """Moves a conversation to open, pending (waiting for the customer) or snoozed (until a
    time: it opens again then, or when the customer writes). Closing is ``do_close``."""
    row = _locked(conversation)
    _check_worker(user, row)
    if status == ConversationStatus.CLOSED:
        raise Refused(_("Close a conversation with its wrap-up."), status=422)
    if status not in ConversationStatus.values:
        raise ValidationError({"status": _("Unknown status %(s)s.") % {"s": status}})
    if status == ConversationStatus.SNOOZED and (
        snoozed_until is None or snoozed_until <= timezone.now()
    ):
        raise ValidationError({"snoozed_until": _("Snooze until a time in the future.")})
    if row.status == ConversationStatus.CLOSED:
        _reopen_check(row)
    previous = row.status
    row.status = status
    row.snoozed_until = snoozed_until if status == ConversationStatus.SNOOZED else None
    if status == ConversationStatus.OPEN and previous != status and row.assignee is not None:
        refusal = routing.room_refusal(row.mailbox_id, row.assignee, adding=row)
        if refusal:
            raise Refused(refusal)
    try:
        with transaction.atomic():
            row.save(update_fields=["status", "snoozed_until"])
    except IntegrityError:
        raise _already_active(row) from None
    kind = {
        ConversationStatus.OPEN: ConversationEventKind.REOPENED,
        ConversationStatus.PENDING: ConversationEventKind.PENDING,
        ConversationStatus.SNOOZED: ConversationEventKind.SNOOZED,
    }[ConversationStatus(status)]
    detail = f"{previous} → {status}"
    if snoozed_until is not None and status == ConversationStatus.SNOOZED:
        detail += f" until {snoozed_until:%Y-%m-%d %H:%M %Z}"
    event(row, kind, user=user, detail=detail)
    routing.request_routing(row.mailbox)
    return row


def _reopen_check(row: Conversation) -> None:
    active = (
        Conversation.objects.filter(
            mailbox_id=row.mailbox_id, contact_id=row.contact_id, status__in=ACTIVE_STATUSES
        )
        .exclude(pk=row.pk)
        .first()
    )
    if active is not None:
        raise _already_active(active)


def _already_active(row: Conversation) -> Refused:
    from django.urls import reverse

    active = (
        Conversation.objects.filter(
            mailbox_id=row.mailbox_id, contact_id=row.contact_id, status__in=ACTIVE_STATUSES
        )
        .exclude(pk=row.pk)
        .first()
    ) or row
    return Refused(
        _("This customer already has an active conversation in this mailbox (#%(id)d).")
        % {"id": active.pk},
        link=reverse("conversations:detail", args=[active.pk]),
    )


@transaction.atomic
def do_close(
    user: User, conversation: Conversation, *, reason: WrapUpReason | None, note: str = ""
) -> Conversation:
    """Closes a conversation with a wrap-up reason of its mailbox (required when the mailbox
    says so) and an optional note."""
    row = _locked(conversation)
    _check_worker(user, row)
    if row.status == ConversationStatus.CLOSED:
        raise Refused(_("The conversation is closed already."))
    if reason is not None and (reason.mailbox_id != row.mailbox_id or not reason.active):
        raise ValidationError({"reason": _("Choose one of this mailbox's wrap-up reasons.")})
    if reason is None and row.mailbox.wrapup_required:
        raise ValidationError({"reason": _("This mailbox needs a wrap-up reason to close.")})
    now = timezone.now()
    row.status, row.snoozed_until = ConversationStatus.CLOSED, None
    row.wrapup_reason, row.wrapup_note = reason, note.strip()[:1000]
    row.closed_at, row.closed_by = now, user
    row.waiting_since = None
    row.save(
        update_fields=[
            "status",
            "snoozed_until",
            "wrapup_reason",
            "wrapup_note",
            "closed_at",
            "closed_by",
            "waiting_since",
        ]
    )
    event(
        row,
        ConversationEventKind.CLOSED,
        user=user,
        at=now,
        detail=reason.name if reason else "",
        data={"reason": reason.pk if reason else None, "note": row.wrapup_note},
    )
    if reason is not None and reason.disposition_code:
        _report_disposition(user, row, reason, now)
    if row.assignee_id == user.pk and row.mailbox.rest_seconds:
        MailboxMember.objects.filter(mailbox_id=row.mailbox_id, user=user).update(
            rest_until=now + dt.timedelta(seconds=row.mailbox.rest_seconds)
        )
    routing.request_routing(row.mailbox)
    return row


def _report_disposition(
    user: User, row: Conversation, reason: WrapUpReason, now: dt.datetime
) -> None:
    """The wrap-up reason's disposition code, reported as a call of this conversation (once per
    conversation): its rule's email goes to the customer's address in the conversation."""
    from herald.dispositions import actions as dispositions
    from herald.dispositions.models import DispositionSource

    customer = (
        row.messages.filter(direction=Direction.IN).exclude(from_address="").order_by("-at").first()
    )
    email = customer.from_address if customer else ""
    if not email:
        email = str(row.contact.variables().get("email") or "")
    dispositions.do_record_disposition(
        Actor.for_user(user),
        dispositions.Call(
            call_id=f"conversation-{row.pk}",
            code=reason.disposition_code,
            agent=user.name or user.email,
            called_at=now,
            variables={"conversation_subject": row.subject, "wrap_up_reason": reason.name},
        ),
        row.contact,
        email,
        source=DispositionSource.DESK,
        conversation=row,
    )


def _check_worker(user: User, row: Conversation) -> None:
    """Status changes: the assignee, a member in open mode, or a manager."""
    if is_manager(user):
        return
    if not is_member(user, row.mailbox_id):
        raise Refused(_("You do not work this mailbox."), status=403)
    if row.mailbox.desk_mode == DeskMode.ASSIGNMENT and row.assignee_id not in (None, user.pk):
        raise Refused(_("%(name)s holds this conversation.") % {"name": row.assignee})


@transaction.atomic
def do_set_cc(user: User, conversation: Conversation, *, cc: str, bcc: str) -> Conversation:
    """The conversation's "Edit CC/BCC": what every later answer is copied to."""
    row = _locked(conversation)
    refusal = may_answer(user, row)
    if refusal:
        raise Refused(refusal)
    new_cc = ", ".join(clean_addresses(cc, "cc"))
    new_bcc = ", ".join(clean_addresses(bcc, "bcc"))
    if (new_cc, new_bcc) != (row.cc, row.bcc):
        detail = f"CC: {row.cc or '—'} → {new_cc or '—'}; BCC: {row.bcc or '—'} → {new_bcc or '—'}"
        row.cc, row.bcc = new_cc[:2000], new_bcc[:2000]
        row.save(update_fields=["cc", "bcc"])
        event(row, ConversationEventKind.CC_CHANGED, user=user, detail=detail)
    return row


def mark_read(user: User, conversation: Conversation) -> None:
    """The user has seen the conversation as it is now."""
    now = timezone.now()
    updated = ConversationRead.objects.filter(user=user, conversation=conversation).update(
        read_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                ConversationRead.objects.create(user=user, conversation=conversation, read_at=now)
        except IntegrityError:
            pass  # the same user's other tab, at the same moment


def note_answering(user: User, conversation: Conversation) -> None:
    """``user`` has the composer open: the others see "answering" for a few seconds."""
    Conversation.objects.filter(pk=conversation.pk).update(
        answering=user, answering_at=timezone.now()
    )


# -- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file an agent attaches to an answer."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Answer:
    """What an agent writes: ``mode`` is reply, reply_all, forward or note."""

    mode: str
    html: str
    to: str = ""  # forward only: where it goes
    uploads: Sequence[Upload] = ()
    forward_attachments: bool = True  # forward: the original's attachments go along
    of_message: int | None = None  # forward / reply to this message (default: the last one in)


@dataclass
class Recipients:
    """Who an answer goes to, shown before sending and used to send."""

    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    cc_source: str = ""  # why these copies: the rule contact centers rely on, in words


def last_inbound(conversation: Conversation) -> Message | None:
    return conversation.messages.filter(direction=Direction.IN).order_by("-at", "-id").first()


def customer_address(conversation: Conversation) -> str:
    """Where answers go: the address the customer last wrote from, else the contact's first."""
    last = last_inbound(conversation)
    if last is not None and last.from_address:
        return last.from_address.lower()
    if conversation.delivery_id:
        email = (
            Delivery.objects.filter(pk=conversation.delivery_id)
            .values_list("email", flat=True)
            .first()
        )
        if email:
            return email
    first = (
        conversation.contact.addresses.order_by("position").values_list("email", flat=True).first()
    )
    return (first or "").lower()


def recipients(conversation: Conversation, mode: str, to: str = "") -> Recipients:
    """The recipients of an answer in ``mode``. Replies use the conversation's saved CC/BCC,
    never the received message's; reply-all adds the other addresses the customer wrote to."""
    if mode == "note":
        return Recipients(to=[])
    if mode == "forward":
        return Recipients(to=clean_addresses(to, "to"), cc_source=_("A forward is not copied."))
    main = customer_address(conversation)
    to_list = [main] if main else []
    if mode == "reply_all":
        own = _own_addresses(conversation.mailbox)
        last = last_inbound(conversation)
        for address in split_addresses(last.to_address if last else ""):
            if address not in own and address not in to_list and "+r-" not in address:
                to_list.append(address)
    return Recipients(
        to=to_list,
        cc=split_addresses(conversation.cc),
        bcc=split_addresses(conversation.bcc),
        cc_source=_(
            "CC and BCC are this conversation's (Edit CC/BCC), not the received message's."
        ),
    )


@transaction.atomic
def do_answer(user: User, conversation: Conversation, answer: Answer) -> Message:
    """Stores an agent's reply, reply-all, forward or internal note; a message to send is
    ``queued`` and the worker sends it after commit."""
    row = _locked(conversation)
    is_note = answer.mode == "note"
    if answer.mode not in ("reply", "reply_all", "forward", "note"):
        raise ValidationError({"mode": _("Unknown answer %(m)s.") % {"m": answer.mode}})
    if is_note:
        if not is_manager(user) and not is_member(user, row.mailbox_id):
            raise Refused(_("You do not work this mailbox."), status=403)
    else:
        refusal = may_answer(user, row)
        if refusal:
            raise Refused(refusal)
    html = compose.clean_html(answer.html)
    text = compose.text_of(html)
    if not text.strip() and not answer.uploads:
        raise ValidationError({"html": _("Write something first.")})
    _check_uploads(answer.uploads)
    who = recipients(row, answer.mode, answer.to)
    if not is_note and not who.to:
        raise ValidationError({"to": _("Nobody to send it to: enter an address.")})
    now = timezone.now()
    original = _answered_message(row, answer.of_message)
    subject = compose.subject_for(
        answer.mode, row.subject or (original.subject if original else "")
    )
    if is_note:
        kind, direction = MessageKind.NOTE, Direction.NOTE
    else:
        kind = MessageKind.FORWARD if answer.mode == "forward" else MessageKind.AGENT
        direction = Direction.OUT
    if answer.mode == "forward" and original is not None:
        html = compose.forwarded_html(html, original)
        text = compose.text_of(html)
    message = Message.objects.create(
        conversation=row,
        direction=direction,
        kind=kind,
        author=user,
        from_address=row.mailbox.from_address,
        to_address=", ".join(who.to)[:1000],
        cc=", ".join(who.cc)[:2000],
        bcc=", ".join(who.bcc)[:2000],
        subject=subject[:500],
        text=text,
        body=text,
        html=html,
        at=now,
        in_reply_to=(original.message_id if original and answer.mode != "forward" else "")[:500],
        references=_references(row) if answer.mode != "forward" else "",
        send_state="" if is_note else SendState.QUEUED,
        due_at=None if is_note else now,
    )
    _attach(message, answer, original)
    update = ["last_message_at", "search_text", "answering", "answering_at"]
    row.last_message_at = now
    row.search_text = index_text(row.search_text, text)
    row.answering, row.answering_at = None, None
    if not is_note and answer.mode != "forward":
        row.waiting_since = None
        row.first_answer_at = row.first_answer_at or now
        update += ["waiting_since", "first_answer_at"]
    row.save(update_fields=update)
    kind_event = {
        "note": ConversationEventKind.NOTED,
        "forward": ConversationEventKind.FORWARDED,
    }.get(answer.mode, ConversationEventKind.REPLIED)
    event(
        row,
        kind_event,
        user=user,
        at=now,
        detail=", ".join(who.to)[:300],
        data={"message": message.pk},
    )
    if not is_note:
        from herald.conversations.sending import enqueue

        transaction.on_commit(lambda: enqueue(message.pk))
    return message


def _answered_message(row: Conversation, message_id: int | None) -> Message | None:
    if message_id is not None:
        found = row.messages.filter(pk=message_id).first()
        if found is None:
            raise ValidationError({"of_message": _("That message is not in this conversation.")})
        return found
    return (
        last_inbound(row)
        or row.messages.exclude(direction=Direction.NOTE).order_by("-at", "-id").first()
    )


def _references(row: Conversation) -> str:
    """The References of an answer: the thread's Message-IDs, oldest first (the last 20)."""
    ids = list(
        row.messages.exclude(message_id="")
        .order_by("at", "id")
        .values_list("message_id", flat=True)
    )
    if row.delivery_id:
        from herald.campaigns import tokens

        domain = row.mailbox.from_address.rpartition("@")[2]
        ids.insert(0, tokens.message_id(row.delivery_id, domain))
    return " ".join(list(dict.fromkeys(ids))[-20:])


def _check_uploads(uploads: Sequence[Upload]) -> None:
    if sum(len(u.data) for u in uploads) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {
                "attachments": _("Attachments may total %(mb)d MB at most.")
                % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
            }
        )


def _attach(message: Message, answer: Answer, original: Message | None) -> None:
    parts = [
        Attachment(
            message=message,
            filename=u.filename[:255] or "attachment",
            content_type=(u.content_type or "application/octet-stream")[:100],
            size=len(u.data),
            data=u.data,
        )
        for u in answer.uploads
    ]
    if answer.mode == "forward" and answer.forward_attachments and original is not None:
        for part in original.attachments.filter(omitted=False):
            parts.append(
                Attachment(
                    message=message,
                    filename=part.filename,
                    content_type=part.content_type,
                    size=part.size,
                    data=bytes(part.data),
                )
            )
    if parts:
        Attachment.objects.bulk_create(parts)


# -- agent-started conversations -----------------------------------------------------------------


def outbound_limit(user: User, mailbox: Mailbox) -> int | None:
    """How many agent-started conversations ``user`` may have active in ``mailbox``."""
    member = MailboxMember.objects.filter(mailbox=mailbox, user=user).first()
    if member is not None and member.max_outbound is not None:
        return member.max_outbound
    return mailbox.max_outbound_open


def subject_used_before(contact: Contact | None, subject: str) -> bool:
    """Whether this contact already had a conversation with this subject (a warning)."""
    if contact is None or not subject.strip():
        return False
    bare = compose.bare_subject(subject)
    return (
        Conversation.objects.filter(contact=contact)
        .filter(Q(subject__iexact=bare) | Q(subject__iexact=subject.strip()))
        .exists()
    )


@transaction.atomic
def do_start_conversation(
    user: User,
    mailbox: Mailbox,
    *,
    to: str,
    subject: str,
    html: str,
    uploads: Sequence[Upload] = (),
    contact: Contact | None = None,
) -> Conversation:
    """An agent's "New email": a conversation started by an agent, assigned to them, whose first
    message goes out through ``mailbox``. Refused when that address already has an active
    conversation there, when the agent reached their limit of open outbound conversations in
    the mailbox, and when the address is suppressed."""
    if not mailbox.enabled:
        raise ValidationError({"mailbox": _("This mailbox is disabled.")})
    if not is_manager(user) and not is_member(user, mailbox.pk):
        raise Refused(_("You do not work this mailbox."), status=403)
    found = clean_addresses(to, "to")
    if len(found) != 1:
        raise ValidationError({"to": _("Enter one email address.")})
    address = found[0]
    if not subject.strip():
        raise ValidationError({"subject": _("Give the email a subject.")})
    if _suppressed(address):
        raise Refused(
            _("%(a)s is on the suppression list: Herald does not write to it.") % {"a": address},
            status=422,
        )
    if contact is None:
        contact = contact_for_address(address)
    elif not contact.addresses.filter(email_key=addresses.key(address)).exists():
        raise ValidationError({"to": _("That address is not one of this contact's.")})
    # Locks the mailbox row: two "New email" of one agent at once cannot both pass the limit.
    Mailbox.objects.select_for_update(no_key=True).filter(pk=mailbox.pk).first()
    active = Conversation.objects.filter(
        mailbox=mailbox, contact=contact, status__in=ACTIVE_STATUSES
    ).first()
    if active is not None:
        raise _already_active(active)
    limit = outbound_limit(user, mailbox)
    if limit is not None:
        mine = Conversation.objects.filter(
            mailbox=mailbox,
            started_by=user,
            origin=Origin.OUTBOUND,
            status__in=ACTIVE_STATUSES,
        ).count()
        if mine >= limit:
            raise Refused(
                _(
                    "You have %(n)d open outbound conversations in %(mailbox)s, your limit: "
                    "close one first."
                )
                % {"n": mine, "mailbox": mailbox.name}
            )
    now = timezone.now()
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                mailbox=mailbox,
                contact=contact,
                subject=subject.strip()[:500],
                origin=Origin.OUTBOUND,
                started_by=user,
                assignee=user,
                assigned_at=now,
                created_at=now,
                last_message_at=now,
                status=ConversationStatus.OPEN,
                previous=Conversation.objects.filter(mailbox=mailbox, contact=contact)
                .order_by("-id")
                .first(),
                search_text=new_index_text(mailbox.pk, subject, contact_words(contact)),
            )
    except IntegrityError:
        raise _already_active(Conversation(mailbox=mailbox, contact=contact)) from None
    event(conversation, ConversationEventKind.CREATED, user=user, at=now, detail=subject[:200])
    conversation.mailbox = mailbox
    _first_message(user, conversation, address, subject.strip(), html, uploads=uploads, now=now)
    return conversation


def _first_message(
    user: User,
    conversation: Conversation,
    address: str,
    subject: str,
    html: str,
    *,
    uploads: Sequence[Upload],
    now: dt.datetime,
) -> Message:
    html = compose.clean_html(html)
    text = compose.text_of(html)
    if not text.strip():
        raise ValidationError({"html": _("Write something first.")})
    _check_uploads(uploads)
    message = Message.objects.create(
        conversation=conversation,
        direction=Direction.OUT,
        kind=MessageKind.AGENT,
        author=user,
        from_address=conversation.mailbox.from_address,
        to_address=address,
        subject=subject[:500],
        text=text,
        body=text,
        html=html,
        at=now,
        send_state=SendState.QUEUED,
        due_at=now,
    )
    _attach(message, Answer(mode="reply", html=html, uploads=uploads), None)
    Conversation.objects.filter(pk=conversation.pk).update(
        search_text=index_text(conversation.search_text, text)
    )
    event(
        conversation,
        ConversationEventKind.REPLIED,
        user=user,
        at=now,
        detail=address,
        data={"message": message.pk},
    )
    from herald.conversations.sending import enqueue

    transaction.on_commit(lambda: enqueue(message.pk))
    return message


def _suppressed(address: str) -> bool:
    """The address, its domain, or (its contact erased) its hash is on the suppression list."""
    return is_suppressed(address) is not None


# -- time passing ---------------------------------------------------------------------------------


def wake_snoozed(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Opens again the snoozed conversations whose time has come; returns how many."""
    now = now or timezone.now()
    due = list(
        Conversation.objects.filter(status=ConversationStatus.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until")
        .values_list("id", flat=True)[:limit]
    )
    woke = 0
    for conversation_id in due:
        with transaction.atomic():
            row = (
                Conversation.objects.select_for_update(of=("self",))
                .select_related("mailbox", "assignee")
                .filter(
                    pk=conversation_id, status=ConversationStatus.SNOOZED, snoozed_until__lte=now
                )
                .first()
            )
            if row is None:
                continue
            row.status, row.snoozed_until = ConversationStatus.OPEN, None
            changed = ["status", "snoozed_until"]
            event(row, ConversationEventKind.WOKE, at=now)
            _back_to_queue_when_full(row, changed, at=now)
            row.save(update_fields=changed)
            routing.request_routing(row.mailbox)
            woke += 1
    return woke


def users_of(ids: Iterable[int]) -> list[User]:
    return list(User.objects.filter(pk__in=list(ids), is_active=True))

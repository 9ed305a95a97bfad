"""Changes to conversations. Inbound processing calls these inside its own transaction (one per
inbound message); they write no audit row, since mail arriving is no configuration change: the
message itself and its campaign Event are the record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import getaddresses

from django.db import IntegrityError, transaction

from herald.campaigns.models import Delivery
from herald.contacts import addresses
from herald.contacts.models import Address, AddressState, Contact
from herald.conversations.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
)
from herald.inbound.content import Content
from herald.mailboxes.models import Mailbox


def contact_for_address(address: str, display_name: str = "") -> Contact:
    """The contact having this address (the oldest one if several), or a new contact with it."""
    key = addresses.key(address)
    found = (
        Address.objects.filter(email_key=key).order_by("contact_id").values_list("contact_id")[:1]
    )
    contact = Contact.objects.filter(pk__in=found).first()
    if contact is not None:
        return contact
    first, _, last = display_name.strip().strip('"').partition(" ")
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


def open_conversation(
    mailbox: Mailbox,
    contact: Contact,
    *,
    subject: str,
    at: dt.datetime,
    delivery: Delivery | None = None,
) -> tuple[Conversation, bool]:
    """The contact's open conversation on this mailbox, or a new one; and whether it is new."""
    found = Conversation.objects.filter(
        mailbox=mailbox, contact=contact, status=ConversationStatus.OPEN
    ).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():  # a savepoint: the unique open conversation may race
            created = Conversation.objects.create(
                mailbox=mailbox,
                contact=contact,
                subject=subject[:500],
                campaign_id=delivery.campaign_id if delivery else None,
                delivery=delivery,
                created_at=at,
                last_message_at=at,
            )
    except IntegrityError:
        return Conversation.objects.get(
            mailbox=mailbox, contact=contact, status=ConversationStatus.OPEN
        ), False
    return created, True


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


def add_message(
    conversation: Conversation,
    new: NewMessage,
    content: Content | None = None,
    *,
    inbound_id: int | None = None,
    delivery: Delivery | None = None,
) -> Message:
    """Adds a message (and its attachments) to a conversation and moves the conversation up."""
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
        subject=new.subject[:500],
        text=new.text,
        body=content.text if content else new.text,
        html=content.html if content else "",
        reason=new.reason[:300],
        at=new.at,
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
    return message


def thread_of(message_ids: list[str]) -> Conversation | None:
    """The open conversation holding one of these Message-IDs (a reply to an earlier message
    of a conversation: an acknowledgement, an agent's answer, an earlier reply)."""
    wanted = [m for m in message_ids if m]
    if not wanted:
        return None
    found = (
        Message.objects.filter(message_id__in=wanted, conversation__status=ConversationStatus.OPEN)
        .select_related("conversation")
        .order_by("-id")
        .first()
    )
    return found.conversation if found else None

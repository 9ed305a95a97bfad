"""Erasing a contact (GDPR "right to be forgotten"): everything that says who the person is goes,
while what Herald must remember survives without naming them.

Erased: the contact's names, company, external id, language, time zone and custom fields; its
addresses, persons and list memberships; the address on each of its deliveries (still due ones
are skipped: nothing more is sent) and the words of their events (a bounce repeats the address;
opens and clicks carry a browser and an IP address); its conversations' subjects, search words,
message texts, headers, raw messages and attachments, and the inbound mail they came from; the
loop guard's and soft-bounce counters for its addresses; the address, extra variables and
message of each call disposition reported for it (an email not sent yet is not sent); the webhook
messages about it, sent or waiting, and its events in the event feed.

Kept, without personal data: the contact row itself as an "erased" placeholder (so that campaign
figures, conversations counted per agent and wrap-up reasons still add up), deliveries and
events with their states and times, conversations with their status and history of assignments.
The audit history keeps who changed the contact and its persons, and when, but no longer the
values. Left as it is: the search vocabulary (``SearchTerm``: words without any link to a
conversation).

Suppression survives as a hash: each address becomes ``sha256:<hex>`` of its lower-case form
(``herald.contacts.addresses.hashed``), and the checks every message passes before it goes (the
dialer's claim, agents' email: ``herald.contacts.queries.suppressions_for``) look hashes up too,
so a forgotten person is never mailed again — even when re-imported — while the list no longer
shows the address. An unsalted hash of an address can be confirmed by whoever already knows the
address, which is what the check needs, and does not reveal it to anyone who does not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from herald.audit.actions import forget, record
from herald.audit.actors import Actor
from herald.audit.models import AuditEvent
from herald.contacts.addresses import hashed
from herald.contacts.models import Contact, Suppression, SuppressionReason, SuppressionSource
from herald.webhooks.models import FeedEvent
from herald.webhooks.models import Message as WebhookMessage


@dataclass(frozen=True)
class Erased:
    contact_id: int
    addresses: int  # addresses now suppressed as hashes
    deliveries: int
    conversations: int


def _addresses(contact: Contact) -> set[str]:
    from herald.campaigns.models import Delivery

    found = {a.email_key for a in contact.addresses.all()}
    found |= {p.email.lower() for p in contact.persons.all() if p.email}
    # Deliveries have no index on contact (a launch writes millions): one scan, for a rare act.
    found |= {
        e.lower()
        for e in Delivery.objects.filter(contact_id=contact.pk).values_list("email", flat=True)
        if e
    }
    return {a for a in found if "@" in a}


@transaction.atomic
def do_erase_contact(actor: Actor, contact: Contact, *, now: dt.datetime | None = None) -> Erased:
    """Erases ``contact`` (see the module's docstring); audited without the erased data."""
    from herald.campaigns.models import PENDING_STATES, Delivery, DeliveryState, Event
    from herald.conversations.models import Attachment, Conversation, Message
    from herald.dispositions.models import PENDING_STATES as DISPOSITION_PENDING
    from herald.dispositions.models import Disposition, DispositionState
    from herald.inbound.models import AutoReplySent, InboundMessage, SoftBounce
    from herald.tracking.models import Engagement

    now = now or timezone.now()
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.erased_at is not None:
        return Erased(contact.pk, 0, 0, 0)
    addresses = _addresses(contact)

    # Suppressed for good, as hashes; entries in clear for these addresses go.
    clear = {s.value: s for s in Suppression.objects.filter(value__in=addresses)}
    Suppression.objects.bulk_create(
        [
            Suppression(
                value=hashed(address),
                reason=clear[address].reason if address in clear else SuppressionReason.ERASED,
                source=SuppressionSource.USER,
                note=f"contact #{contact.pk} erased",
                created_at=now,
            )
            for address in sorted(addresses)
        ],
        ignore_conflicts=True,
    )
    Suppression.objects.filter(value__in=addresses).delete()
    AutoReplySent.objects.filter(email_key__in=addresses).delete()
    SoftBounce.objects.filter(email_key__in=addresses).delete()

    deliveries = Delivery.objects.filter(contact_id=contact.pk)
    delivery_ids = list(deliveries.values_list("id", flat=True))
    deliveries.filter(state__in=PENDING_STATES).update(
        state=DeliveryState.SKIPPED, reason="contact erased", due_at=None
    )
    deliveries.update(email="", reply="")
    Event.objects.filter(delivery_id__in=delivery_ids).update(detail="", data=None)
    Engagement.objects.filter(delivery_id__in=delivery_ids).update(links=[])

    calls = Disposition.objects.filter(contact=contact)
    calls.filter(state__in=DISPOSITION_PENDING).update(
        state=DispositionState.SKIPPED, reason="contact erased", due_at=None
    )
    calls.update(email="", variables={}, raw=b"", subject="")

    conversations = Conversation.objects.filter(contact=contact)
    conversation_ids = list(conversations.values_list("id", flat=True))
    messages = Message.objects.filter(conversation_id__in=conversation_ids)
    inbound_ids = [i for i in messages.values_list("inbound_id", flat=True) if i]
    Attachment.objects.filter(message__conversation_id__in=conversation_ids).delete()
    messages.update(
        from_address="",
        to_address="",
        cc="",
        bcc="",
        subject="",
        text="",
        body="",
        html="",
        raw=b"",
        send_error="",
    )
    InboundMessage.objects.filter(Q(pk__in=inbound_ids) | Q(from_address__in=addresses)).update(
        raw=b"", from_address="", subject="", error=""
    )
    conversations.update(subject="", search_text="")  # out of the search index too
    # Webhook messages about the contact, delivered or not, go: the log must not remember them,
    # and a receiver that has not had them yet will not (herald.webhooks; events not yet fanned
    # out are read after the erasure above, without the address).
    WebhookMessage.objects.filter(payload__data__contact_id=contact.pk).delete()
    FeedEvent.objects.filter(payload__data__contact_id=contact.pk).delete()

    person_ids = [str(i) for i in contact.persons.values_list("id", flat=True)]
    forget(
        AuditEvent.objects.filter(
            Q(object_type="contact", object_id=str(contact.pk))
            | Q(object_type="contactperson", object_id__in=person_ids)
        ),
        f"#{contact.pk} (erased)",
    )
    contact.addresses.all().delete()
    contact.persons.all().delete()
    contact.memberships.all().delete()
    contact.first_name = contact.last_name = contact.company = ""
    contact.language = contact.timezone = ""
    contact.external_id = None
    contact.fields = {}
    contact.erased_at = contact.updated_at = now
    contact.save()
    record(
        actor,
        "contact.erase",
        contact,
        {
            "addresses": [len(addresses), 0],
            "deliveries": [len(delivery_ids), len(delivery_ids)],
            "conversations": [len(conversation_ids), len(conversation_ids)],
        },
    )
    return Erased(contact.pk, len(addresses), len(delivery_ids), len(conversation_ids))

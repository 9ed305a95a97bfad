"""A manager edits a contact, and erases one (GDPR): the person's data is gone from every page,
the API, deliveries, events and conversations, the history keeps who did it but not the values,
and the address stays suppressed as a hash — so the person, even imported again, is never sent
another message."""

from __future__ import annotations

import json

import pytest

from herald.audit.models import AuditEvent
from herald.campaigns import actions as campaign_actions
from herald.campaigns.models import Delivery, Event
from herald.contacts.models import Address, Contact, Suppression
from herald.conversations.models import Conversation, Message
from herald.dialer import sender
from herald.dialer.transport import OutboxTransport
from herald.inbound.models import InboundMessage
from tests.campaigns import conftest as campaign_fixtures
from tests.campaigns.conftest import ACTOR, drain, make_list
from tests.inbound.conftest import receive

pytestmark = pytest.mark.django_db

# The campaign tests' fixtures: a mailbox on a real SMTP server, campaigns sent through it.
smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign

ANN = "ann.erased@example.com"


@pytest.fixture
def outbox(monkeypatch) -> OutboxTransport:
    box = OutboxTransport()
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: box)
    return box


def _customer_with_history(make_campaign, mailbox, outbox) -> Contact:
    """Ann: in a list, sent a campaign, her reply a conversation with an attachment."""
    customers = make_list("Customers", [ANN], last_name="Erasmus", fields={"city": "Lyon"})
    campaign = make_campaign([customers])
    campaign_actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    assert [e.recipients[0] for e in outbox.sent] == [ANN]
    delivery = Delivery.objects.get(campaign=campaign)
    sent = outbox.sent[0].message.decode()
    reply_to = next(
        line.split(":", 1)[1].strip() for line in sent.split("\r\n") if line.startswith("Reply-To:")
    )
    message_id = next(
        line.split(":", 1)[1].strip()
        for line in sent.split("\r\n")
        if line.lower().startswith("message-id:")
    )
    reply = (
        f"From: Ann Erasmus <{ANN}>\r\nTo: {reply_to}\r\nSubject: Re: my order\r\n"
        f"In-Reply-To: {message_id}\r\nMessage-ID: <r1@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nMy phone is 555-0199, call me.\r\n--b\r\n"
        'Content-Type: text/plain; name="id.txt"\r\nContent-Disposition: attachment; '
        'filename="id.txt"\r\n\r\npassport 12345\r\n--b--\r\n'
    ).encode()
    receive(mailbox, reply)
    assert Conversation.objects.filter(contact_id=delivery.contact_id).exists()
    return Contact.objects.get(pk=delivery.contact_id)


def test_a_manager_edits_a_contact_and_the_history_says_what_changed(mike, client_for):
    make_list("Customers", [ANN], fields={"city": "Lyon"})
    contact = Contact.objects.get(addresses__email=ANN)
    client = client_for(mike)
    page = client.get(f"/contacts/{contact.pk}/edit/")
    assert page.status_code == 200
    response = client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            "first_name": "Ann",
            "last_name": "Martin",
            "company": "",
            "external_id": "CRM-7",
            "language": "fr",
            "timezone": "Europe/Paris",
            "email1": ANN,
            "email2": "ann.work@example.com",
            "email3": "",
            "field:city": "Paris",
            "new_field": "Plan",
            "new_value": "gold",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.last_name, contact.external_id, contact.language) == ("Martin", "CRM-7", "fr")
    assert contact.fields == {"city": "Paris", "plan": "gold"}
    assert [a.email for a in contact.addresses.order_by("position")] == [
        ANN,
        "ann.work@example.com",
    ]
    change = AuditEvent.objects.get(action="contact.change")
    assert change.changes["last_name"] == ["", "Martin"]
    assert change.changes["emails"] == [[ANN], [ANN, "ann.work@example.com"]]

    bad = client.post(f"/contacts/{contact.pk}/edit/", {"email1": "not an address"})
    assert b"not an address" in bad.content  # said, and nothing saved
    assert contact.addresses.count() == 2


def test_erasing_a_contact_leaves_no_personal_data_and_the_address_is_never_mailed_again(
    mike, client_for, make_campaign, mailbox, outbox
):
    contact = _customer_with_history(make_campaign, mailbox, outbox)
    client = client_for(mike)
    client.post(
        f"/contacts/{contact.pk}/edit/",
        {"first_name": "Ann", "last_name": "Erasmus", "email1": ANN, "field:city": "Lyon"},
    )
    refused = client.post(f"/contacts/{contact.pk}/erase/")  # not confirmed: nothing happens
    assert refused.status_code == 302
    assert Contact.objects.get(pk=contact.pk).erased_at is None

    assert client.post(f"/contacts/{contact.pk}/erase/", {"confirm": "erase"}).status_code == 302

    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert (contact.first_name, contact.last_name, contact.fields) == ("", "", {})
    assert not Address.objects.filter(contact=contact).exists()
    assert client.get(f"/contacts/{contact.pk}/").status_code == 404
    assert b"Erasmus" not in client.get("/contacts/?q=erasmus").content
    assert b"Erasmus" not in client.get("/contacts/").content
    # Deliveries and events keep their counts, not the address nor the words.
    delivery = Delivery.objects.get(contact_id=contact.pk)
    assert (delivery.state, delivery.email) == ("sent", "")
    assert all(e.detail == "" and not e.data for e in Event.objects.filter(delivery=delivery))
    # The conversation stays (figures, agents' work), emptied.
    conversation = Conversation.objects.get(contact=contact)
    messages = Message.objects.filter(conversation=conversation)
    dump = (
        json.dumps(
            list(messages.values("from_address", "to_address", "subject", "text", "body", "html")),
        )
        + conversation.subject
        + conversation.search_text
    )
    assert "555-0199" not in dump
    assert ANN not in dump
    assert not messages.filter(attachments__isnull=False).exists()
    assert [(bytes(r.raw), r.from_address) for r in InboundMessage.objects.all()] == [(b"", "")]
    # The history says who erased whom, and no longer what the contact was.
    erase = AuditEvent.objects.get(action="contact.erase")
    assert erase.actor_user == mike
    history = json.dumps(
        list(AuditEvent.objects.values("object_repr", "changes")), ensure_ascii=False
    )
    assert "Erasmus" not in history
    assert ANN not in history
    # Suppressed as a hash: the list shows no address, yet Ann is never mailed again.
    assert not Suppression.objects.filter(value=ANN).exists()
    assert Suppression.objects.filter(value__startswith="sha256:").count() == 1
    outbox.sent.clear()
    again = make_list("Imported again", [ANN])
    campaign = make_campaign([again], name="Second campaign")
    campaign_actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    assert outbox.sent == []
    skipped = Delivery.objects.get(campaign=campaign)
    assert skipped.state == "skipped"
    assert "erased" in skipped.reason


def test_an_agent_cannot_start_an_email_to_an_erased_persons_address(
    alice, mike, client_for, mailbox
):
    from herald.contacts.erasure import do_erase_contact
    from herald.conversations.actions import do_set_members
    from herald.conversations.models import Conversation

    make_list("Customers", [ANN])
    do_erase_contact(ACTOR, Contact.objects.get(addresses__email=ANN))
    do_set_members(ACTOR, [alice], [mailbox], add=True)
    response = client_for(alice).post(
        "/conversations/new/",
        {"mailbox": mailbox.pk, "to": ANN, "subject": "Hello", "html": "<p>Hi</p>"},
    )
    assert b"suppression list" in response.content
    assert not Conversation.objects.exists()


def test_the_api_edits_and_erases_and_refuses_what_it_does_not_take(mike, alice, api_for):
    make_list("Customers", [ANN])
    contact = Contact.objects.get(addresses__email=ANN)
    api = api_for(mike)
    url = f"/api/v1/contacts/{contact.pk}"

    unknown = api.patch(url, {"nickname": "Annie"}, content_type="application/json")
    assert unknown.status_code == 422
    changed = api.patch(
        url,
        {"last_name": "Martin", "emails": [ANN, "ann2@example.com"], "fields": {"tier": 2}},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["variables"]["last_name"] == "Martin"
    contact.refresh_from_db()
    assert contact.first_name == "P0"  # not given: not changed
    assert contact.fields == {"tier": 2}
    invalid = api.patch(url, {"emails": ["nope"]}, content_type="application/json")
    assert invalid.status_code in (400, 422)

    assert api_for(alice).delete(url).status_code == 403
    erased = api.delete(url)
    assert erased.status_code == 200
    assert erased.json()["addresses"] == 2
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404

"""The API beyond the pages' forms: a template and the signatures, a list's members, the sandbox's
messages, and the quarantine with "process again"."""

from __future__ import annotations

import pytest

from herald.audit.actors import Actor
from herald.contacts.actions import do_upsert_contacts
from herald.inbound.models import InboundMessage, InboundStatus
from herald.mailboxes.sandbox import store_message
from tests import test_access_matrix as objects

pytestmark = pytest.mark.django_db


def test_a_template_and_the_signatures(api_for, mike):
    saved = objects._template()
    signature = objects._signature()
    client = api_for(mike)
    template = client.get(f"/api/v1/templates/{saved.template.pk}").json()
    assert template["id"] == saved.template.pk
    assert template["subject"] == saved.template.subject
    assert [s["name"] for s in client.get("/api/v1/signatures").json()] == [signature.name]


def test_a_lists_members_page_by_contact_id(api_for, mike):
    contact_list = objects._list()
    do_upsert_contacts(
        Actor.system("test"),
        [{"first_name": f"P{n}", "emails": [f"p{n}@example.org"]} for n in range(3)],
        contact_list=contact_list,
    )
    client = api_for(mike)
    first = client.get(f"/api/v1/lists/{contact_list.pk}/members", {"limit": 2}).json()
    rest = client.get(
        f"/api/v1/lists/{contact_list.pk}/members", {"after": first[-1]["contact_id"]}
    ).json()
    assert [m["emails"] for m in first + rest] == [
        ["p0@example.org"],
        ["p1@example.org"],
        ["p2@example.org"],
    ]


def test_the_sandbox_messages_and_their_raw_text(api_for, alice):
    store_message(
        "shop@example.org",
        ["ann@example.org"],
        b"To: ann@example.org\r\nSubject: Your order\r\n\r\nShipped.\r\n",
    )
    client = api_for(alice)
    (message,) = client.get("/api/v1/sandbox/messages", {"q": "order"}).json()
    assert message["subject"] == "Your order"
    raw = client.get(f"/api/v1/sandbox/messages/{message['id']}/raw")
    assert raw["Content-Type"] == "message/rfc822"
    assert b"Shipped." in raw.content


def test_the_quarantine_and_process_again(api_for, mike, personas):
    made = objects._conversation(personas)
    row = made.inbound
    InboundMessage.objects.filter(pk=row.pk).update(status=InboundStatus.QUARANTINED, error="boom")
    client = api_for(mike)
    (held,) = client.get("/api/v1/inbound/quarantine").json()
    assert (held["id"], held["error"]) == (row.pk, "boom")
    again = client.post(f"/api/v1/inbound/{row.pk}/retry")
    assert again.status_code == 200
    assert again.json() == {"id": row.pk, "status": "processed", "error": ""}
    assert not client.get("/api/v1/inbound/quarantine").json()
    assert client.post(f"/api/v1/inbound/{row.pk}/retry").status_code == 409  # not held now

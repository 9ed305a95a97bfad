"""The API beyond the pages' forms: a template and the signatures, a template's attachments and
test sends (through a real SMTP server), a list's members and export, the sandbox's messages, and
the quarantine with "process again"."""

from __future__ import annotations

import csv
import email
import io
from email import policy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from herald.audit.actors import Actor
from herald.contacts.actions import do_upsert_contacts
from herald.inbound.models import InboundMessage, InboundStatus
from herald.mailboxes.sandbox import store_message
from herald.messaging.tasks import send_test_message
from tests import test_access_matrix as objects
from tests.campaigns import conftest as campaign_fixtures

smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox

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
    # Every received message, with what processing decided, and its raw text.
    (listed,) = client.get("/api/v1/inbound", {"status": "processed"}).json()
    assert (listed["id"], listed["kind"]) == (row.pk, "new")
    assert not client.get("/api/v1/inbound", {"kind": "bounce"}).json()
    raw = client.get(f"/api/v1/inbound/{row.pk}/raw")
    assert raw["Content-Type"] == "message/rfc822"
    assert raw.content == bytes(InboundMessage.objects.get(pk=row.pk).raw)


def test_attachments_and_a_test_send_reach_a_real_smtp_server(api_for, mike, mailbox, smtp):
    template = objects._template().template
    client = api_for(mike)
    upload = SimpleUploadedFile("terms.txt", b"The terms.", content_type="text/plain")
    added = client.post(f"/api/v1/templates/{template.pk}/attachments", {"file": upload})
    assert added.status_code == 201
    assert added.json()["filename"] == "terms.txt"
    assert added.json()["size"] == len(b"The terms.")
    listed = client.get(f"/api/v1/templates/{template.pk}/attachments").json()
    assert [a["filename"] for a in listed] == ["terms.txt"]

    body = {"to": "qa@example.org", "mailbox_id": mailbox.pk, "variables": {"first_name": "Quinn"}}
    queued = client.post(
        f"/api/v1/templates/{template.pk}/test-sends", body, content_type="application/json"
    )
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued"
    send_test_message.call(queued.json()["id"])  # what the worker does with the queued task
    assert client.get(f"/api/v1/test-sends/{queued.json()['id']}").json()["status"] == "sent"
    (received,) = smtp.received
    message = email.message_from_bytes(received.content, policy=policy.default)
    assert message["To"] == "qa@example.org"
    assert "Hello Quinn" in message.get_body(("plain",)).get_content()
    (part,) = list(message.iter_attachments())
    assert part.get_filename() == "terms.txt"
    assert part.get_content() == "The terms."

    assert client.delete(f"/api/v1/attachments/{added.json()['id']}").status_code == 204
    assert client.get(f"/api/v1/templates/{template.pk}/attachments").json() == []
    refused = client.post(
        f"/api/v1/templates/{template.pk}/test-sends",
        {**body, "to": "not an address"},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert "not a valid email address" in str(refused.json()["detail"])


def test_a_list_exported_as_csv(api_for, mike, alice):
    contact_list = objects._list()
    do_upsert_contacts(
        Actor.system("test"),
        [
            {"first_name": "Ann", "emails": ["ann@example.org"], "fields": {"plan": "gold"}},
            {"first_name": "=cmd()", "emails": ["bo@example.org"], "fields": {"plan": "tin"}},
        ],
        contact_list=contact_list,
    )
    answer = api_for(mike).get(f"/api/v1/lists/{contact_list.pk}/export")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [(r["email"], r["plan"]) for r in rows] == [
        ("ann@example.org", "gold"),
        ("bo@example.org", "tin"),
    ]
    assert rows[1]["first_name"] == "'=cmd()"  # a spreadsheet shows it, never runs it
    assert api_for(alice).get(f"/api/v1/lists/{contact_list.pk}/export").status_code == 403

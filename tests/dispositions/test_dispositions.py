"""Emails triggered by call dispositions, end to end: the voice platform reports a call over the
API, the worker sends the mapped template through a real SMTP server (aiosmtpd), once per call,
after its delay, inside its windows, never to an address suppressed meanwhile; the desk's
wrap-up reports one too; the counts per code and the contact's page show them."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from herald.accounts.models import User
from herald.campaigns.actions import account_zone
from herald.contacts.actions import do_add_suppression, do_upsert_contacts
from herald.contacts.erasure import do_erase_contact
from herald.contacts.models import Contact
from herald.conversations import actions as desk_actions
from herald.conversations.models import WrapUpReason
from herald.dispositions import sending
from herald.dispositions.models import Disposition
from herald.mailboxes.models import Mailbox
from herald.messaging.actions import do_save_template
from herald.messaging.models import Template
from tests.campaigns import conftest as campaign_fixtures
from tests.conversations import conftest as desk_fixtures
from tests.dialer.smtpd import SmtpServer

smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
ACTOR = campaign_fixtures.ACTOR
desk = desk_fixtures.desk
bob = desk_fixtures.bob
customer_mail = desk_fixtures.customer_mail

HTML = (
    "<p>Hello ${first_name|there},</p><p>As agreed with ${call_agent|our team} on the phone, order "
    "${order_number} ships tomorrow.</p>"
)


def _message(server: SmtpServer, index: int = -1) -> EmailMessage:
    return email.message_from_bytes(server.received[index].content, policy=policy.default)  # type: ignore[return-value]


@pytest.fixture
def template(db: None) -> Template:
    return do_save_template(
        ACTOR, None, name="Order confirmation", subject="Your order ${order_number}", html=HTML
    ).template


@pytest.fixture
def manager_api(api_for: Any, mike: User) -> Client:
    return api_for(mike)


@pytest.fixture
def voice_api(api_for: Any, alice: User) -> Client:
    """The voice platform's token: an agent's, the least role that may report calls."""
    return api_for(alice)


@pytest.fixture
def rule(manager_api: Client, template: Template, mailbox: Mailbox) -> dict[str, Any]:
    answer = manager_api.post(
        "/api/v1/disposition-rules",
        {"code": "sale_confirmed", "template_id": template.pk, "mailbox_id": mailbox.pk},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


@pytest.fixture
def carol(db: None) -> Contact:
    do_upsert_contacts(
        ACTOR,
        [{"external_id": "CRM-7", "first_name": "Carol", "emails": ["carol@example.org"]}],
    )
    return Contact.objects.get(external_id="CRM-7")


def report(api: Client, **fields: Any) -> Any:
    body = {"call_id": "call-1", "code": "SALE_CONFIRMED", **fields}
    return api.post("/api/v1/dispositions", body, content_type="application/json")


def test_a_reported_call_sends_its_template_once_through_smtp(
    rule: dict[str, Any],
    voice_api: Client,
    manager_api: Client,
    client_for: Any,
    mike: User,
    carol: Contact,
    smtp: SmtpServer,
) -> None:
    assert rule["code"] == "SALE_CONFIRMED"  # codes are compared in upper case
    answer = report(
        voice_api, external_id="CRM-7", agent="Vic Voice", variables={"order_number": "A-1001"}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["state"] == "waiting"
    assert answer.json()["contact_id"] == carol.pk

    assert sending.send_due() is False
    assert len(smtp.received) == 1
    sent = _message(smtp)
    assert sent["To"] == "carol@example.org"
    assert sent["From"].addresses[0].addr_spec == "offers@herald.test"
    assert sent["Subject"] == "Your order A-1001"
    body = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Carol," in body
    assert "As agreed with Vic Voice on the phone, order A-1001 ships tomorrow." in body
    assert sent["X-Herald-Disposition"] == "SALE_CONFIRMED"

    row = Disposition.objects.get()
    assert row.state == "sent"
    assert row.message_id == sent["Message-ID"]

    # The platform reports the same call again (a retry after a timeout): nothing more is sent.
    again = report(voice_api, external_id="CRM-7", variables={"order_number": "A-1001"})
    assert again.status_code == 200
    assert again.json()["id"] == row.pk
    assert again.json()["state"] == "sent"
    sending.send_due()
    assert len(smtp.received) == 1
    assert Disposition.objects.count() == 1

    counts = manager_api.get("/api/v1/disposition-statistics").json()
    assert counts == [
        {"code": "SALE_CONFIRMED", "calls": 1, "sent": 1, "waiting": 0, "skipped": 0,
         "failed": 0, "no_rule": 0}
    ]  # fmt: skip
    page = client_for(mike).get(f"/contacts/{carol.pk}/").content.decode()
    assert "SALE_CONFIRMED" in page
    assert "Your order A-1001" in page
    page = client_for(mike).get("/dispositions/").content.decode()
    assert "SALE_CONFIRMED" in page
    assert "Order confirmation" in page


def test_an_unknown_caller_with_an_address_becomes_a_contact_and_unmapped_codes_send_nothing(
    rule: dict[str, Any], voice_api: Client, manager_api: Client, smtp: SmtpServer
) -> None:
    answer = report(voice_api, call_id="c-9", code="NO_ANSWER", email=" Dan@Example.org ")
    assert answer.status_code == 201
    assert answer.json()["state"] == "no_rule"
    contact = Contact.objects.get(pk=answer.json()["contact_id"])
    assert contact.variables()["email"] == "Dan@example.org"

    answer = report(
        voice_api, call_id="c-10", email="dan@example.org", variables={"order_number": 5}
    )
    assert answer.json()["contact_id"] == contact.pk  # found again by its address
    sending.send_due()
    assert [r.rcpt_tos for r in smtp.received] == [["dan@example.org"]]
    counts = {c["code"]: c for c in manager_api.get("/api/v1/disposition-statistics").json()}
    assert counts["NO_ANSWER"]["no_rule"] == 1
    assert counts["SALE_CONFIRMED"]["sent"] == 1


def test_an_opt_out_between_the_call_and_the_delayed_email_holds(
    rule: dict[str, Any], manager_api: Client, voice_api: Client, carol: Contact, smtp: SmtpServer
) -> None:
    manager_api.patch(
        f"/api/v1/disposition-rules/{rule['id']}",
        {"delay_minutes": 30},
        content_type="application/json",
    )
    before = timezone.now()
    answer = report(voice_api, external_id="CRM-7", variables={"order_number": "A-2"})
    due = dt.datetime.fromisoformat(answer.json()["due_at"])
    assert due >= before + dt.timedelta(minutes=30)
    assert sending.send_due() is False
    assert smtp.received == []

    do_add_suppression(ACTOR, "carol@example.org", reason="unsubscribed")
    Disposition.objects.update(due_at=timezone.now())  # the half hour has passed
    sending.send_due()
    assert smtp.received == []
    row = Disposition.objects.get()
    assert row.state == "skipped"
    assert "unsubscribed" in row.reason


def test_the_email_waits_for_the_rules_send_window(
    rule: dict[str, Any], manager_api: Client, voice_api: Client, carol: Contact, smtp: SmtpServer
) -> None:
    zone = account_zone()
    day = (timezone.now().astimezone(zone).weekday() + 2) % 7  # a day that is not today
    name = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day]
    answer = manager_api.patch(
        f"/api/v1/disposition-rules/{rule['id']}",
        {"windows": f"{name} 10:00-11:00"},
        content_type="application/json",
    )
    assert answer.json()["windows"] == f"{name} 10:00-11:00"
    answer = report(voice_api, external_id="CRM-7", variables={"order_number": "A-3"})
    local = dt.datetime.fromisoformat(answer.json()["due_at"]).astimezone(zone)
    assert (local.weekday(), local.hour, local.minute) == (day, 10, 0)
    assert local - timezone.now().astimezone(zone) < dt.timedelta(days=3)
    sending.send_due()
    assert smtp.received == []

    # Due by mistake while the window is closed (the rule changed since): it waits again.
    Disposition.objects.update(due_at=timezone.now())
    assert sending.send(Disposition.objects.get().pk) == "waiting"
    row = Disposition.objects.get()
    assert row.due_at.astimezone(zone).hour == 10
    assert row.attempts == 0
    assert smtp.received == []


def test_a_temporary_refusal_is_retried_and_a_permanent_one_recorded(
    rule: dict[str, Any], voice_api: Client, smtp: SmtpServer
) -> None:
    report(voice_api, call_id="t", email="once-data-451@example.org", variables={"order_number": 1})
    report(voice_api, call_id="p", email="data-554@example.org", variables={"order_number": 2})
    sending.send_due()
    temporary = Disposition.objects.get(call_id="t")
    assert temporary.state == "deferred"
    assert "451" in temporary.reason
    assert temporary.due_at > timezone.now()
    permanent = Disposition.objects.get(call_id="p")
    assert permanent.state == "failed"
    assert "554" in permanent.reason

    Disposition.objects.filter(pk=temporary.pk).update(due_at=timezone.now())
    sending.send_due()
    temporary.refresh_from_db()
    assert temporary.state == "sent"
    assert temporary.attempts == 2
    assert [r.rcpt_tos for r in smtp.received] == [["once-data-451@example.org"]]


def test_a_template_missing_a_variable_fails_with_its_name(
    rule: dict[str, Any], voice_api: Client, carol: Contact, smtp: SmtpServer
) -> None:
    report(voice_api, external_id="CRM-7")  # no order_number, and the template has no default
    sending.send_due()
    row = Disposition.objects.get()
    assert row.state == "failed"
    assert "order_number" in row.reason
    assert smtp.received == []


def test_closing_a_conversation_with_a_mapped_wrap_up_reason_sends_the_email(
    manager_api: Client,
    desk: Mailbox,
    alice: User,
    client_for: Any,
    mike: User,
    smtp: SmtpServer,
) -> None:
    thanks = do_save_template(
        ACTOR, None, name="Thanks", subject="Thank you", html="<p>Closed as: ${wrap_up_reason}.</p>"
    ).template
    manager_api.post(
        "/api/v1/disposition-rules",
        {"code": "SOLD", "template_id": thanks.pk, "mailbox_id": desk.pk},
        content_type="application/json",
    )
    answer = client_for(mike).post(
        "/conversations/wrap-up/",
        {"mailbox": desk.pk, "name": "Sold", "disposition_code": "sold"},
    )
    assert answer.status_code == 302
    reason = WrapUpReason.objects.get(name="Sold")
    assert reason.disposition_code == "SOLD"
    assert 'value="SOLD"' in client_for(mike).get("/conversations/wrap-up/").content.decode()

    conversation = customer_mail(desk, "I'll take it.", sender="Erin <erin@example.org>")
    desk_actions.do_take(alice, conversation)
    desk_actions.do_close(alice, conversation, reason=reason)
    row = Disposition.objects.get()
    assert (row.source, row.email, row.conversation_id) == (
        "desk",
        "erin@example.org",
        conversation.pk,
    )
    assert row.agent == "alice"
    assert row.call_id == f"conversation-{conversation.pk}"

    sending.send_due()
    sent = _message(smtp)
    assert sent["To"] == "erin@example.org"
    assert sent["Subject"] == "Thank you"
    assert "Closed as: Sold." in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_refusals_say_what_to_fix(
    rule: dict[str, Any], manager_api: Client, voice_api: Client, template: Template
) -> None:
    answer = report(voice_api, code="bad code!", email="x@example.org")
    assert answer.status_code == 422
    assert "letters, digits" in str(answer.json()["detail"])
    answer = report(voice_api, external_id="NOBODY")
    assert answer.status_code == 422
    assert "email address" in str(answer.json()["detail"])
    answer = report(voice_api, email="not an address")
    assert answer.status_code == 422
    answer = report(voice_api, email="x@example.org", variables={"call_id": "x"})
    assert answer.status_code == 422
    assert "set by the call" in str(answer.json()["detail"])
    answer = report(voice_api, email="x@example.org", time="2026-12-01T10:00:00")
    assert answer.status_code == 422
    assert "time zone" in str(answer.json()["detail"])
    assert Disposition.objects.count() == 0

    answer = manager_api.post(
        "/api/v1/disposition-rules",
        {"code": "SALE_CONFIRMED", "template_id": template.pk, "mailbox_id": rule["mailbox_id"]},
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert "Another rule" in str(answer.json()["detail"])
    answer = manager_api.patch(
        f"/api/v1/disposition-rules/{rule['id']}",
        {"windows": "Mon 18:00-09:00"},
        content_type="application/json",
    )
    assert answer.status_code == 422
    # The agent's token reports calls; it does not change rules.
    assert voice_api.get("/api/v1/disposition-rules").status_code == 403
    # A template a rule sends cannot be deleted from under it.
    answer = manager_api.delete(f"/api/v1/templates/{template.pk}")
    assert answer.status_code == 409
    assert "SALE_CONFIRMED" in str(answer.json())


def test_erasing_the_contact_erases_its_calls_and_stops_their_emails(
    rule: dict[str, Any], manager_api: Client, voice_api: Client, carol: Contact, smtp: SmtpServer
) -> None:
    manager_api.patch(
        f"/api/v1/disposition-rules/{rule['id']}",
        {"delay_minutes": 60},
        content_type="application/json",
    )
    report(voice_api, external_id="CRM-7", variables={"order_number": "A-9"})
    do_erase_contact(ACTOR, carol)
    row = Disposition.objects.get()
    assert (row.state, row.email, row.variables) == ("skipped", "", {})
    Disposition.objects.update(due_at=timezone.now())
    sending.send_due()
    assert smtp.received == []


def test_temporary_refusals_are_retried_for_a_day_after_the_first_attempt(
    rule: dict[str, Any], voice_api: Client
) -> None:
    report(voice_api, call_id="t", email="data-451@example.org", variables={"order_number": 1})
    sending.send_due()
    row = Disposition.objects.get()
    assert row.state == "deferred"
    # A day after the first attempt, the next refusal is the last.
    Disposition.objects.update(
        first_attempt_at=timezone.now() - dt.timedelta(hours=25), due_at=timezone.now()
    )
    sending.send_due()
    row.refresh_from_db()
    assert row.state == "failed"
    assert row.reason.startswith("gave up after 2 attempts: 451")


def test_the_email_of_a_call_goes_out_as_a_webhook(
    rule: dict[str, Any], voice_api: Client, carol: Contact, smtp: SmtpServer
) -> None:
    from herald.webhooks import actions as webhooks
    from herald.webhooks import dispatch
    from tests.webhooks.test_webhooks import Receiver

    receiver = Receiver()
    try:
        webhooks.do_create_endpoint(
            ACTOR, receiver.url, event_types=["disposition.sent", "disposition.failed"]
        )
        report(voice_api, external_id="CRM-7", variables={"order_number": "A-7"})
        report(
            voice_api, call_id="call-2", email="data-554@example.org", variables={"order_number": 2}
        )
        sending.send_due()
        dispatch.fan_out()
        dispatch.deliver_due(timezone.now())
        by_call = {m["data"]["call_id"]: m for m in receiver.accepted()}
        assert by_call["call-1"]["type"] == "disposition.sent"
        assert by_call["call-1"]["data"]["contact_id"] == carol.pk
        assert by_call["call-2"]["type"] == "disposition.failed"
        assert "554" in by_call["call-2"]["data"]["reason"]
    finally:
        receiver.server.shutdown()

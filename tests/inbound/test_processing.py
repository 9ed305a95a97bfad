"""What comes back for a real campaign message sent by the dialer: replies thread to their
delivery (by token when the client dropped In-Reply-To), opt-outs and bounces suppress, soft
bounces add up, auto-replies and complaints are recorded; mail through Dovecot end to end."""

from __future__ import annotations

import email
from email import policy

import pytest

from herald.campaigns import actions, tokens
from herald.campaigns.models import Delivery, Event
from herald.contacts.models import ListMember, Suppression, is_suppressed
from herald.conversations.models import Conversation, Message
from herald.inbound import ingest
from tests.campaigns.conftest import ACTOR, drain, make_list
from tests.inbound.conftest import read_from, receive, run

pytestmark = pytest.mark.django_db

STATUS_MAP = {"replied": "replied", "unsubscribed": "opted out", "bounced": "bad address"}


@pytest.fixture
def sent(smtp, make_campaign):
    """A campaign message really sent to ann@example.com: (delivery, the message as sent)."""
    customers = make_list("Customers", ["ann@example.com"])
    campaign = make_campaign([customers], status_map=STATUS_MAP)
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    delivery = Delivery.objects.get(email="ann@example.com")
    assert delivery.state == "sent"
    return delivery, email.message_from_bytes(smtp.received[0].content, policy=policy.default)


def member_status(delivery: Delivery) -> str:
    return ListMember.objects.get(contact_id=delivery.contact_id).status


def kinds(delivery: Delivery) -> list[str]:
    return list(
        Event.objects.filter(delivery=delivery).order_by("id").values_list("kind", flat=True)
    )


def reply(message, body: str, *, subject: str = "", threaded: bool = True) -> bytes:
    headers = [
        "From: Ann <ann@example.com>",
        f"To: {message['Reply-To']}",
        f"Subject: {subject or 'Re: ' + message['Subject']}",
        "Message-ID: <reply-1@example.com>",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if threaded:
        headers.append(f"In-Reply-To: {message['Message-ID']}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def dsn(message, status: str, action: str = "failed", n: int = 0) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: offers@herald.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{status}-{action}-{n}@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; ann@example.com\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} the mailbox says no\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message['Message-ID']}\r\nSubject: {message['Subject']}\r\n\r\n--B--\r\n"
    ).encode()


QUOTED = (
    "\r\n\r\nOn Mon, 3 Mar 2025 at 10:00, Herald Offers <offers@herald.test> wrote:\r\n"
    "> Hello P0,\r\n> Your plan: basic.\r\n"
)


def test_a_reply_without_in_reply_to_still_threads_to_its_delivery_by_token(sent, dovecot, folder):
    delivery, message = sent
    mailbox = read_from(dovecot, delivery.campaign.mailbox, folder)
    dovecot.append(reply(message, "Yes please, call me tomorrow." + QUOTED, threaded=False), folder)
    ingestor = ingest.Ingestor()
    try:
        run(ingestor)
    finally:
        ingestor.close()
    conversation = Conversation.objects.get(mailbox=mailbox, contact_id=delivery.contact_id)
    assert conversation.campaign_id == delivery.campaign_id
    received = conversation.messages.get()
    assert received.delivery_id == delivery.pk
    assert received.text == "Yes please, call me tomorrow."
    assert "wrote:" in received.body  # the full message stays available
    assert kinds(delivery)[-1] == "replied"
    assert member_status(delivery) == "replied"


def test_a_french_opt_out_reply_suppresses_the_address(sent, dovecot, folder):
    delivery, message = sent
    read_from(dovecot, delivery.campaign.mailbox, folder)
    french = (
        "\r\n\r\nLe lun. 3 mars 2025 à 10:00, Herald Offers <offers@herald.test> a écrit :\r\n"
        "> Bonjour,\r\n"
    )
    dovecot.append(reply(message, "ARRÊT" + french), folder)
    ingestor = ingest.Ingestor()
    try:
        run(ingestor)
    finally:
        ingestor.close()
    entry = is_suppressed("ann@example.com")
    assert entry is not None
    assert entry.reason == "opt_out"
    assert kinds(delivery)[-1] == "unsubscribed"
    assert member_status(delivery) == "opted out"
    # An opt-out is no agent work (the one conversation is the folder's "Welcome").
    assert not Conversation.objects.filter(contact_id=delivery.contact_id).exists()


def test_a_hard_bounce_marks_its_delivery_bounced_and_suppresses_the_address(sent, dovecot, folder):
    delivery, message = sent
    read_from(dovecot, delivery.campaign.mailbox, folder)
    dovecot.append(dsn(message, "5.1.1"), folder)
    ingestor = ingest.Ingestor()
    try:
        run(ingestor)
    finally:
        ingestor.close()
    delivery.refresh_from_db()
    assert delivery.state == "bounced"
    assert "5.1.1" in delivery.reason
    assert kinds(delivery)[-1] == "bounced"
    assert Suppression.objects.get(value="ann@example.com").reason == "hard_bounce"
    assert member_status(delivery) == "bad address"


def test_a_bounce_without_returned_headers_is_matched_by_recipient(sent):
    delivery, message = sent
    bare = dsn(message, "5.1.1").replace(message["Message-ID"].encode(), b"<unknown@x>")
    receive(delivery.campaign.mailbox, bare)
    delivery.refresh_from_db()
    assert delivery.state == "bounced"


def test_soft_bounces_suppress_only_after_the_configured_count(sent, settings):
    settings.INBOUND_SOFT_BOUNCE_LIMIT = 3
    delivery, message = sent
    mailbox = delivery.campaign.mailbox
    receive(mailbox, dsn(message, "4.4.1", action="delayed"))  # still trying: not counted
    for n in range(2):
        receive(mailbox, dsn(message, "4.2.2", n=n))
    assert is_suppressed("ann@example.com") is None
    receive(mailbox, dsn(message, "4.2.2", n=3))
    entry = is_suppressed("ann@example.com")
    assert entry is not None
    assert entry.reason == "soft_bounces"
    delivery.refresh_from_db()
    assert delivery.state == "sent"  # soft bounces are no failure of the delivery
    assert kinds(delivery)[-4:] == ["delayed", "soft_bounced", "soft_bounced", "soft_bounced"]


def test_an_out_of_office_reply_is_recorded_on_the_delivery_and_opens_no_conversation(sent):
    delivery, message = sent
    auto = reply(message, "I am out of the office until Monday.", subject="Automatic reply: Hi")
    row = receive(delivery.campaign.mailbox, b"Auto-Submitted: auto-replied\r\n" + auto)
    assert row.kind == "autoreply"
    assert row.delivery_id == delivery.pk
    assert kinds(delivery)[-1] == "autoreplied"
    assert not Conversation.objects.exists()


def test_a_complaint_suppresses_the_address(sent):
    delivery, message = sent
    arf = (
        "From: feedback@isp.example\r\nTo: offers@herald.test\r\nSubject: Abuse report\r\n"
        "Message-ID: <arf-1@isp.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n'
        "--F\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\n"
        "Original-Rcpt-To: ann@example.com\r\n\r\n"
        f"--F\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message['Message-ID']}\r\n"
        "\r\n--F--\r\n"
    ).encode()
    row = receive(delivery.campaign.mailbox, arf)
    assert row.kind == "complaint"
    assert Suppression.objects.get(value="ann@example.com").reason == "complaint"
    assert kinds(delivery)[-1] == "complained"


def test_replies_go_to_the_contacts_one_open_conversation(sent):
    delivery, message = sent
    mailbox = delivery.campaign.mailbox
    receive(mailbox, reply(message, "First answer." + QUOTED))
    second = reply(message, "And a second thought.").replace(b"reply-1@", b"reply-2@")
    receive(mailbox, second)
    conversation = Conversation.objects.get()
    assert [m.text for m in conversation.messages.all()] == [
        "First answer.",
        "And a second thought.",
    ]
    assert Event.objects.filter(delivery=delivery, kind="replied").count() == 2


def test_a_token_with_a_forged_signature_names_no_delivery(sent):
    delivery, message = sent
    token = tokens.reply_token(delivery.pk)
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    raw = reply(message, "Hello?", threaded=False).replace(token.encode(), forged.encode())
    row = receive(delivery.campaign.mailbox, raw)
    assert row.kind == "new"
    assert row.delivery_id is None
    assert Message.objects.get().delivery_id is None

"""The managers' conversation pages: the thread with its campaign message, inbound HTML made
safe (no script, no remote image until asked), attachments as downloads, the quarantine."""

from __future__ import annotations

import email
from email import policy

import pytest

from herald.audit.models import AuditEvent
from herald.campaigns import actions
from herald.campaigns.models import Delivery
from herald.conversations.models import Attachment, Conversation
from herald.inbound.models import InboundMessage
from tests.campaigns.conftest import ACTOR, drain, make_list
from tests.inbound.conftest import receive

pytestmark = pytest.mark.django_db

HTML_REPLY = (
    '<div>Yes, <b>please</b> call me.<script>alert("x")</script>'
    '<img src="https://tracker.example/open.gif"><img src="cid:logo@x"></div>'
    '<div class="gmail_quote">On Monday Herald wrote: old text</div>'
)


def html_reply(message) -> bytes:
    return (
        "From: Ann <ann@example.com>\r\n"
        f"To: {message['Reply-To']}\r\nSubject: Re: {message['Subject']}\r\n"
        f"In-Reply-To: {message['Message-ID']}\r\nMessage-ID: <html-1@example.com>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{HTML_REPLY}\r\n"
        "--R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        "--R\r\nContent-Type: text/html\r\n"
        'Content-Disposition: attachment; filename="page.html"\r\n\r\n<script>x</script>\r\n'
        "--R--\r\n"
    ).encode()


@pytest.fixture
def conversation(smtp, make_campaign) -> Conversation:
    customers = make_list("Customers", ["ann@example.com"])
    campaign = make_campaign([customers], name="Spring offer")
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    sent = email.message_from_bytes(smtp.received[0].content, policy=policy.default)
    receive(campaign.mailbox, html_reply(sent))
    return Conversation.objects.get()


def test_a_manager_sees_the_conversation_with_its_campaign_message(conversation, mike, client_for):
    client = client_for(mike)
    listing = client.get("/conversations/")
    assert "Spring offer" in listing.content.decode()
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Sent by campaign Spring offer to ann@example.com" in page
    assert "Hello P0" in page  # the campaign message as the contact received it
    assert "Yes, please call me." in page
    delivery = Delivery.objects.get()
    assert conversation.delivery_id == delivery.pk


def test_inbound_html_is_sanitized_and_remote_images_wait_until_asked(
    conversation, mike, client_for
):
    client = client_for(mike)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "alert" not in page
    assert "tracker.example" not in page
    assert "1 remote image was not loaded" in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page  # the message's own inline image
    shown = client.get(f"/conversations/{conversation.pk}/?images=1").content.decode()
    assert "https://tracker.example/open.gif" in shown
    assert "alert" not in shown


def test_an_attachment_is_always_a_download(conversation, mike, client_for):
    part = Attachment.objects.get(filename="page.html")
    response = client_for(mike).get(f"/conversations/attachments/{part.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="page.html"'
    assert response.content.strip() == b"<script>x</script>"


def test_an_attachment_over_the_limit_is_listed_without_its_data(mailbox, settings):
    settings.INBOUND_MAX_ATTACHMENT_MB = 1
    big = "A" * (1_100_000 * 4 // 3)
    raw = (
        "From: zed@example.org\r\nTo: offers@herald.test\r\nSubject: Scan\r\n"
        'Message-ID: <scan@example.org>\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n'
        "--M\r\nContent-Type: text/plain\r\n\r\nHere is the scan.\r\n"
        "--M\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="scan.pdf"\r\n\r\n{big}\r\n--M--\r\n'
    ).encode()
    receive(mailbox, raw)
    part = Attachment.objects.get()
    assert part.omitted
    assert part.size > 1024 * 1024
    assert bytes(part.data) == b""


def test_the_quarantine_shows_the_error_and_the_raw_message(mailbox, mike, client_for):
    poison = receive(mailbox, b"garbage without any header\r\n")
    client = client_for(mike)
    page = client.get("/conversations/quarantine/").content.decode()
    assert "UnreadableMessage" in page
    raw = client.get(f"/conversations/inbound/{poison.pk}/raw/")
    assert raw.content == b"garbage without any header\r\n"
    assert (
        "1 inbound message could not be processed" in client.get("/conversations/").content.decode()
    )


def test_a_quarantined_message_can_be_processed_again_once_fixed(mailbox, mike, client_for):
    # As if processing had failed on a bug since fixed: the message itself is fine.
    row = InboundMessage.objects.create(
        mailbox=mailbox,
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        message_key="<fixed@example.org>",
        raw=b"From: kim@example.org\r\nSubject: Hi\r\nMessage-ID: <fixed@example.org>\r\n\r\nHi",
        status="quarantined",
        error="RuntimeError: a bug",
    )
    response = client_for(mike).post(f"/conversations/inbound/{row.pk}/retry/", follow=True)
    assert "The message was processed." in response.content.decode()
    row.refresh_from_db()
    assert row.status == "processed"
    assert Conversation.objects.get().contact.addresses.get().email == "kim@example.org"
    assert AuditEvent.objects.filter(action="inbound.retry").exists()

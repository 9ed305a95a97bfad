"""The whole cycle with real servers, as a contact center runs it: a campaign sent over SMTP
(aiosmtpd), the customer's reply read from IMAP (Dovecot), an agent's answer received by the SMTP
server with its threading headers and reply token, and the customer's second reply landing in the
same conversation. And the same cycle through the built-in sandbox alone, as a new user runs it:
no IMAP server, mail sent to the sandbox's own addresses taken in as inbound mail."""

from __future__ import annotations

import email
import smtplib
from email import policy
from email.message import EmailMessage

import pytest

from herald.campaigns import actions as campaign_actions
from herald.campaigns import tokens
from herald.conversations import actions
from herald.conversations.actions import Answer
from herald.conversations.models import Conversation, Message
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.mailboxes.sandbox import SandboxServer
from tests.campaigns.conftest import drain, make_list
from tests.conversations.conftest import ACTOR, reply_to, send_all
from tests.inbound.conftest import read_from, run

pytestmark = pytest.mark.django_db(transaction=True)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def test_campaign_reply_over_imap_agent_answer_over_smtp_and_the_second_reply_threads(
    smtp, make_campaign, dovecot, folder, ingestor, alice
):
    customers = make_list("Customers", ["ann@example.org"])
    campaign = make_campaign([customers], name="Renewal offer")
    mailbox = read_from(dovecot, campaign.mailbox, folder)
    actions.do_set_members(ACTOR, [alice], [mailbox], add=True)
    campaign_actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    offer = parse(smtp.received[-1].content)

    dovecot.append(reply_to(offer, "Yes please, renew me.", sender="ann@example.org"), folder)
    run(ingestor, until=lambda: Conversation.objects.filter(campaign=campaign).exists())
    conversation = Conversation.objects.get(campaign=campaign)
    assert conversation.campaign == campaign
    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "Done: renewed for a year."))
    assert send_all() == ["sent"]

    answer = parse(smtp.received[-1].content)
    assert smtp.received[-1].rcpt_tos == ["ann@example.org"]
    first = conversation.messages.get(direction="in")
    assert answer["In-Reply-To"] == first.message_id
    assert offer["Message-ID"] in answer["References"]  # the campaign message starts the thread
    token = answer["Reply-To"].split("+r-")[1].partition("@")[0]
    assert tokens.desk_message_id(token) == conversation.messages.get(kind="agent").pk

    dovecot.append(reply_to(answer, "Thank you!", sender="ann@example.org"), folder)
    received = Message.objects.filter(direction="in", conversation__contact=conversation.contact)
    run(ingestor, until=lambda: received.count() == 2)
    assert Conversation.objects.filter(contact=conversation.contact).count() == 1
    assert list(conversation.messages.filter(direction="in").values_list("text", flat=True))[
        -1
    ].startswith("Thank you!")


@pytest.fixture
def sandbox():
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    yield ensure_sandbox_mailbox(port=port), port
    server.stop()


def test_the_sandbox_alone_closes_the_loop_as_a_new_user_sees_it(
    sandbox, alice, client_for, settings
):
    mailbox, port = sandbox
    from herald.audit.actors import Actor
    from herald.campaigns.actions import do_save_campaign
    from herald.messaging.actions import do_save_template

    actions.do_set_members(ACTOR, [alice], [mailbox], add=True)
    template = do_save_template(
        Actor.system("test"),
        None,
        name="Hello",
        subject="Your plan",
        html='<p>Hello ${first_name|there}</p><a href="${unsubscribe_url}">Unsubscribe</a>',
    ).template
    campaign = do_save_campaign(
        ACTOR,
        None,
        lists=[make_list("Trial", ["ben@example.org"])],
        name="Trial",
        mailbox=mailbox,
        template=template,
    )
    campaign_actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    offer = SandboxMessage.objects.get(rcpt_tos=["ben@example.org"])

    # "Reply as this customer" on the sandbox message.
    page = client_for(alice).get(f"/mailboxes/sandbox/{offer.pk}/").content.decode()
    assert 'data-testid="reply-as-customer"' in page
    client_for(alice).post(f"/mailboxes/sandbox/{offer.pk}/reply/", {"text": "Tell me more"})
    conversation = Conversation.objects.get()
    assert conversation.campaign == campaign
    assert conversation.messages.get().text.startswith("Tell me more")

    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "Here is more."))
    send_all()
    answer = SandboxMessage.objects.filter(rcpt_tos=["ben@example.org"]).latest("id")
    assert "Here is more." in answer.parsed().get_body(("plain",)).get_content()

    # Any program sending to the sandbox SMTP server, to the answer's reply address.
    reply = reply_to(answer.parsed(), "Perfect, thanks", sender="ben@example.org")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(
            "ben@example.org", [answer.parsed()["Reply-To"].addresses[0].addr_spec], reply
        )
    assert Conversation.objects.count() == 1
    texts = list(conversation.messages.filter(direction="in").values_list("text", flat=True))
    assert texts[-1].startswith("Perfect, thanks")


def test_mail_to_an_address_that_is_not_a_sandbox_mailboxs_is_only_kept_in_the_sandbox(sandbox):
    _mailbox, port = sandbox
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(
            "x@example.org",
            ["someone@example.org"],
            b"From: x@example.org\r\nTo: someone@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
        )
    assert SandboxMessage.objects.filter(rcpt_tos=["someone@example.org"]).exists()
    assert not Conversation.objects.exists()

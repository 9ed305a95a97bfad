"""A mailbox with a return path (VERP): each campaign message goes out with its own envelope
sender, ``bounces+r-<token>@domain``, while its From stays the mailbox's address; a bounce that
names no recipient at all, read by another mailbox, still finds its delivery, marks it bounced
and suppresses the address. Other mail (test messages, agents' answers) goes out from the plain
return path."""

from __future__ import annotations

import email
from email import policy

import pytest

from herald.campaigns import actions
from herald.campaigns.models import Delivery
from herald.contacts.models import is_suppressed
from herald.mailboxes.actions import do_save_mailbox
from herald.messaging.actions import do_request_test_send
from herald.messaging.tasks import send_test_message
from tests import test_access_matrix as objects
from tests.campaigns.conftest import ACTOR, drain, make_list
from tests.inbound.conftest import receive

pytestmark = pytest.mark.django_db


def bounce_to(address: str) -> bytes:
    """A bounce as some servers write it: plain text, no report part, no recipient named."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        f"To: {address}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I am sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "The mail system: host mx.example.net said: 550 5.1.1 User unknown\r\n"
    ).encode()


def test_every_message_has_its_own_return_path_and_its_bounce_comes_home(
    smtp, mailbox, make_campaign
):
    mailbox.return_path = "bounces@herald.test"
    mailbox.save()
    campaign = make_campaign([make_list("Customers", ["ann@example.com", "bo@example.com"])])
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    envelopes = {r.rcpt_tos[0]: r for r in smtp.received}
    ann = envelopes["ann@example.com"]
    assert ann.mail_from.startswith("bounces+r-")
    assert ann.mail_from.endswith("@herald.test")
    assert ann.mail_from != envelopes["bo@example.com"].mail_from  # one per message
    sent = email.message_from_bytes(ann.content, policy=policy.default)
    assert sent["From"].addresses[0].addr_spec == "offers@herald.test"  # never gets bounces

    reader = do_save_mailbox(
        ACTOR,
        None,
        {"name": "Bounces", "from_address": "bounces@herald.test", "smtp_host": "127.0.0.1"},
    )
    receive(reader, bounce_to(ann.mail_from))
    delivery = Delivery.objects.get(email="ann@example.com")
    assert delivery.state == "bounced"
    entry = is_suppressed("ann@example.com")
    assert entry is not None
    assert entry.reason == "hard_bounce"
    assert Delivery.objects.get(email="bo@example.com").state == "sent"


def test_other_mail_goes_out_from_the_plain_return_path(smtp, mailbox):
    mailbox.return_path = "bounces@herald.test"
    mailbox.save()
    version = objects._template().version
    test = do_request_test_send(ACTOR, version, mailbox, "qa@example.com", {})
    send_test_message.call(test.pk)  # what the worker does with the queued task
    (received,) = smtp.received
    assert received.mail_from == "bounces@herald.test"

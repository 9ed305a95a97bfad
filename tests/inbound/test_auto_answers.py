"""Automatic answers: a new conversation's acknowledgement and the opt-out confirmation, and the
loop guard that keeps them from answering machines, lists, no-reply senders, or twice."""

from __future__ import annotations

import email
from email import policy

import pytest
from django_tasks_db.models import DBTaskResult

from herald.conversations.models import Conversation, ConversationStatus
from herald.inbound.loopguard import auto_answer_refusal, is_no_reply_address
from herald.inbound.mime import parse
from herald.inbound.tasks import send_auto_answer
from herald.mailboxes.models import Mailbox
from herald.messaging.actions import do_save_template
from tests.campaigns.conftest import ACTOR
from tests.inbound.conftest import receive

pytestmark = pytest.mark.django_db


def message(sender: str, *extra: str, n: int = 1, body: str = "Where is my order?") -> bytes:
    address = sender.rpartition("<")[2].rstrip(">")
    headers = [
        f"From: {sender}",
        "To: offers@herald.test",
        "Subject: My order",
        f"Message-ID: <q{n}.{address.replace('@', '.')}@example.org>",
        *extra,
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def answering(mailbox: Mailbox) -> Mailbox:
    ack = do_save_template(
        ACTOR,
        None,
        name="Ack",
        subject="We got your message",
        html="<p>Thanks, we answer soon.</p>",
    ).template
    optout = do_save_template(
        ACTOR, None, name="Bye", subject="You are unsubscribed", html="<p>Done.</p>"
    ).template
    Mailbox.objects.filter(pk=mailbox.pk).update(ack_template=ack, optout_template=optout)
    mailbox.refresh_from_db()
    return mailbox


def queued() -> list[list]:
    return [
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path__endswith="send_auto_answer")
    ]


def test_a_new_conversation_gets_an_acknowledgement_marked_auto_submitted(
    answering, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive(answering, message("Bob <bob@example.org>"))
    assert queued() == [[row.pk, "ack"]]
    assert "ack answer queued" in row.reason
    assert send_auto_answer.call(row.pk, "ack") == "sent to bob@example.org"
    sent = smtp.received[-1]
    assert sent.mail_from in {"", "<>"}  # a null envelope sender: nothing answers an answer
    answer = email.message_from_bytes(sent.content, policy=policy.default)
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["In-Reply-To"] == "<q1.bob.example.org@example.org>"
    assert answer["Subject"] == "We got your message"
    thread = Conversation.objects.get().messages.all()
    assert [(m.direction, m.kind) for m in thread] == [("in", "new"), ("out", "ack")]


@pytest.mark.parametrize(
    ("sender", "extra", "why"),
    [
        ("carl@example.org", ["Auto-Submitted: auto-generated"], "Auto-Submitted"),
        ("dana@example.org", ["List-Id: <news.example.org>"], "mailing list"),
        ("noreply@shop.example", [], "no-reply sender"),
        ("erin@example.org", ["Precedence: bulk"], "bulk or list mail"),
    ],
)
def test_the_loop_guard_never_answers_machines_lists_or_no_reply_senders(
    answering, sender, extra, why, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive(answering, message(sender, *extra))
    assert queued() == []
    assert why in row.reason


def test_an_address_is_answered_at_most_once_per_period(
    answering, settings, django_capture_on_commit_callbacks
):
    settings.INBOUND_AUTO_REPLY_HOURS = 24
    with django_capture_on_commit_callbacks(execute=True):
        receive(answering, message("fay@example.org", n=1))
    Conversation.objects.update(status=ConversationStatus.CLOSED)
    with django_capture_on_commit_callbacks(execute=True):
        again = receive(answering, message("fay@example.org", n=2))
    assert Conversation.objects.count() == 2  # a new conversation, yet no second answer
    assert len(queued()) == 1
    assert "answered within 24 h already" in again.reason


def test_an_opt_out_gets_the_confirmation_once(answering, smtp, django_capture_on_commit_callbacks):
    verified = "Authentication-Results: mx.herald.test; dmarc=pass header.from=example.org"
    with django_capture_on_commit_callbacks(execute=True):
        row = receive(answering, message("gus@example.org", verified, body="STOP"))
    assert row.kind == "optout"
    assert queued() == [[row.pk, "optout"]]
    assert send_auto_answer.call(row.pk, "optout") == "sent to gus@example.org"
    confirmation = email.message_from_bytes(smtp.received[-1].content, policy=policy.default)
    assert confirmation["Subject"] == "You are unsubscribed"


def test_an_out_of_office_reply_is_never_answered(answering, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive(
            answering,
            message("hal@example.org", body="I am out of the office until Monday."),
        )
    assert row.kind == "autoreply"
    assert queued() == []
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    "address",
    ["noreply@x.com", "no-reply@x.com", "do-not-reply@x.com", "MAILER-DAEMON@x.com",
     "bounces+123@x.com", "news-owner@x.com"],
)  # fmt: skip
def test_no_reply_addresses_are_recognised(address):
    assert is_no_reply_address(address)


@pytest.mark.parametrize("address", ["ann@x.com", "replyguy@x.com", "noah@x.com"])
def test_people_are_not_taken_for_no_reply_addresses(address):
    assert not is_no_reply_address(address)


def test_a_bounce_or_a_null_return_path_is_never_answered():
    plain = parse(message("ivy@example.org"))
    assert auto_answer_refusal(plain, "new", "ivy@example.org") is None
    assert auto_answer_refusal(plain, "bounce", "ivy@example.org") == "never answered: bounce"
    null = parse(b"Return-Path: <>\r\n" + message("ivy@example.org"))
    assert "null return path" in (auto_answer_refusal(null, "new", "ivy@example.org") or "")

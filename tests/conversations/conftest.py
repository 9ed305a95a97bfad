"""The desk's tests: a mailbox on a real SMTP server (aiosmtpd) that agents work, a second agent,
customers' messages received as ingestion would store them, and the worker's sending step."""

from __future__ import annotations

import email
import itertools
from email import policy
from email.message import EmailMessage

import pytest

from herald.accounts.models import Role, User
from herald.conversations import actions, sending
from herald.conversations.models import Conversation, Message
from herald.mailboxes.models import Mailbox
from tests.campaigns import conftest as campaign_fixtures
from tests.conftest import PASSWORD
from tests.dialer.smtpd import SmtpServer
from tests.dovecot import dovecot  # noqa: F401 - fixture
from tests.inbound.conftest import (  # noqa: F401 - fixture
    folder,
    ingestor,
    receive,
)

smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign
ACTOR = campaign_fixtures.ACTOR
_ids = itertools.count(1)


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user(
        email="bob@example.com", password=PASSWORD, role=Role.AGENT, name="Bob"
    )


@pytest.fixture
def desk(mailbox: Mailbox, alice: User, bob: User) -> Mailbox:
    """The "Offers" mailbox in assignment mode, worked by alice and bob."""
    actions.do_set_members(ACTOR, [alice, bob], [mailbox], add=True)
    return mailbox


def customer_mail(
    mailbox: Mailbox,
    text: str = "Hello, I have a question about my order.",
    *,
    sender: str = "Carol Buyer <carol@example.org>",
    subject: str = "My order",
    headers: dict[str, str] | None = None,
) -> Conversation:
    """A customer's message arriving at ``mailbox``; returns its conversation."""
    n = next(_ids)
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    raw = (
        f"From: {sender}\r\nTo: {mailbox.from_address}\r\nSubject: {subject}\r\n"
        f"Message-ID: <customer-{n}@example.org>\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()
    row = receive(mailbox, raw)
    return Message.objects.get(inbound=row).conversation


def reply_to(sent: EmailMessage, text: str, *, sender: str = "carol@example.org") -> bytes:
    """The customer's reply to a message Herald sent, as a mail program writes it."""
    return (
        f"From: {sender}\r\nTo: {sent['Reply-To']}\r\nSubject: Re: {sent['Subject']}\r\n"
        f"Message-ID: <reply-{next(_ids)}@example.org>\r\nIn-Reply-To: {sent['Message-ID']}\r\n"
        f"References: {sent.get('References', '')} {sent['Message-ID']}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\n"
        f"On Monday you wrote:\r\n> earlier text\r\n"
    ).encode()


def last_received(server: SmtpServer) -> EmailMessage:
    return email.message_from_bytes(server.received[-1].content, policy=policy.default)  # type: ignore[return-value]


def send_all() -> list[str]:
    """The worker sends every queued desk message (what the task does after commit)."""
    return [
        sending.send(pk)
        for pk in Message.objects.filter(send_state="queued").values_list("pk", flat=True)
    ]

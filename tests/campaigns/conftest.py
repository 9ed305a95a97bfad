"""Helpers for the campaign and dialer tests: a list of contacts, a template, a mailbox on a real
SMTP server (aiosmtpd), a campaign on them, and the dialer run in the foreground."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from herald.audit.actors import Actor
from herald.campaigns import actions
from herald.campaigns.models import Campaign
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.contacts.models import ContactList
from herald.dialer.sender import Dialer
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from herald.messaging.actions import do_save_template
from tests.dialer.smtpd import Behaviour, SmtpServer

ACTOR = Actor.system("test")
HTML = (
    "<p>Hello ${first_name|there},</p><p>Your plan: ${plan|basic}.</p>"
    '<p><a href="https://example.com/offer">See the offer</a></p>'
    '<p><a href="${unsubscribe_url}">Unsubscribe</a></p>'
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(behaviour=Behaviour())
    yield server
    server.stop()


@pytest.fixture
def mailbox(db: None, smtp: SmtpServer) -> Mailbox:
    return do_save_mailbox(
        ACTOR,
        None,
        {
            "name": "Offers",
            "from_address": "offers@herald.test",
            "from_name": "Herald Offers",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "max_connections": 2,
        },
        secrets={},
    )


def make_list(name: str, emails: list[str | list[str]], **extra: Any) -> ContactList:
    contact_list = do_create_list(ACTOR, name=name)
    people = [
        {"first_name": f"P{i}", "emails": e if isinstance(e, list) else [e], **extra}
        for i, e in enumerate(emails)
    ]
    do_upsert_contacts(ACTOR, people, contact_list)
    return contact_list


@pytest.fixture
def make_campaign(mailbox: Mailbox) -> Callable[..., Campaign]:
    def make(lists: list[ContactList], html: str = HTML, **fields: Any) -> Campaign:
        template = do_save_template(
            ACTOR,
            None,
            name=f"T{len(lists)}-{fields.get('name', 'c')}",
            subject="Hi ${first_name|}",
            html=html,
        ).template
        fields.setdefault("name", "Spring offer")
        return actions.do_save_campaign(
            ACTOR, None, lists=lists, mailbox=mailbox, template=template, **fields
        )

    return make


def drain(dialer: Dialer | None = None, *, now: Any = None, max_steps: int = 200) -> Dialer:
    """Runs the dialer until it has nothing due (a test's foreground worker), at ``now``."""
    dialer = dialer or Dialer()
    for _ in range(max_steps):
        if not dialer.step(now):
            break
    return dialer


def run_until(
    done: Callable[[], bool], dialer: Dialer | None = None, *, timeout: float = 60
) -> Dialer:
    """Runs the dialer in the foreground until ``done()``: deferred deliveries come due by
    themselves (tests set tiny ``DIALER_RETRY_MINUTES``), so this waits a moment between two
    drains. ``timeout`` only guards against a test that would never end."""
    dialer = dialer or Dialer()
    deadline = time.monotonic() + timeout
    while True:
        drain(dialer)
        if done():
            return dialer
        if time.monotonic() > deadline:
            dialer.close()
            pytest.fail("the dialer never got there")
        time.sleep(0.02)

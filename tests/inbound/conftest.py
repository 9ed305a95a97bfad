"""Prints the corpus accuracy figures in the terminal summary, with or without -s; and the
helpers of the ingestion tests: a receiving mailbox on a real Dovecot, an ingestor to step."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from herald.audit.actors import Actor
from herald.inbound import ingest, processing
from herald.inbound.models import InboundMessage
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from tests.campaigns import conftest as campaign_fixtures
from tests.dovecot import DovecotServer, dovecot  # noqa: F401 - the fixture


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.inbound.test_corpora import REPORT

    if REPORT:
        terminalreporter.section("classify accuracy on ../shared/corpora")
        for block in REPORT:
            terminalreporter.write_line(block)


# -- a mailbox reading from a real Dovecot ------------------------------------------------------


ACTOR = Actor.system("test")
# The campaign tests' fixtures: a mailbox on a real SMTP server, campaigns sent through it.
smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign
_folders = itertools.count(1)


@pytest.fixture(autouse=True)
def _short_idle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # A step waits on idling connections; a second per step would only slow the tests down.
    monkeypatch.setattr(ingest, "IDLE_WAIT_SECONDS", 0.05)


@pytest.fixture
def folder() -> str:
    """A folder of its own for each test: the module's Dovecot keeps earlier tests' mail."""
    return f"Test{next(_folders)}"


def receiving_mailbox(server: DovecotServer, folder: str, **fields: object) -> Mailbox:
    server.append(b"From: a@example.org\r\nSubject: Welcome\r\n\r\nHello.\r\n", folder)
    return do_save_mailbox(
        ACTOR,
        None,
        {
            "name": f"Support {folder}",
            "from_address": "support@herald.test",
            "smtp_host": "127.0.0.1",
            "smtp_port": 2,
            "smtp_security": "none",
            "receive_enabled": True,
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_security": "none",
            "imap_username": server.user,
            "imap_folder": folder,
            "imap_poll_seconds": 60,
            **fields,
        },
        secrets={"imap_password": server.password},
    )


def run(ingestor: ingest.Ingestor, *, until: Callable[[], bool] | None = None) -> None:
    """Steps the ingestor until it has nothing more to fetch (and ``until`` holds, if given)."""
    for _ in range(200):
        more = ingestor.step()
        if not more and (until is None or until()):
            return
    raise AssertionError("the ingestor did not get there in 200 steps")


@pytest.fixture
def ingestor() -> Iterator[ingest.Ingestor]:
    worker = ingest.Ingestor()
    yield worker
    worker.close()


def stored(mailbox: Mailbox) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox=mailbox).order_by("uid"))


_uids = itertools.count(1)


def receive(mailbox: Mailbox, raw: bytes) -> InboundMessage:
    """Stores a message as ingestion would and processes it (no IMAP server involved)."""
    key, sender, subject = ingest.summary(raw)
    row = InboundMessage.objects.create(
        mailbox=mailbox,
        folder="INBOX",
        uidvalidity=1,
        uid=next(_uids),
        message_key=key,
        raw=raw,
        size=len(raw),
        from_address=sender,
        subject=subject,
    )
    processing.process_message(row.pk)
    row.refresh_from_db()
    return row


def read_from(server: DovecotServer, mailbox: Mailbox, folder: str) -> Mailbox:
    """Turns on "receive email" for a mailbox, from ``folder`` on ``server``."""
    server.append(b"From: a@example.org\r\nSubject: Welcome\r\n\r\nHello.\r\n", folder)
    return do_save_mailbox(
        ACTOR,
        mailbox,
        {
            "receive_enabled": True,
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_security": "none",
            "imap_username": server.user,
            "imap_folder": folder,
        },
        secrets={"imap_password": server.password},
    )

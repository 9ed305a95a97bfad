"""Ingestion from a real Dovecot: IDLE and polling, the cursor across restarts and UIDVALIDITY
changes, quarantine, one worker per mailbox, moving processed mail, the size limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from herald.inbound import ingest
from herald.inbound.models import FolderCursor, InboundMessage, IngestLease
from tests.dovecot import DovecotServer
from tests.inbound.conftest import receiving_mailbox, run, stored

pytestmark = pytest.mark.django_db


def mail(n: int, subject: str = "Question", body: str = "Do you ship to Lyon?") -> bytes:
    return (
        f"From: Client {n} <client{n}@example.com>\r\nTo: support@herald.test\r\n"
        f"Subject: {subject} {n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture(scope="module")
def dovecot_without_idle() -> Iterator[DovecotServer]:
    """A Dovecot that does not offer IDLE: the ingestor must poll it."""
    server = DovecotServer("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n")
    yield server
    server.stop()


def test_new_mail_arrives_through_idle_without_waiting_for_the_poll_interval(
    dovecot, folder, ingestor
):
    mailbox = receiving_mailbox(dovecot, folder, imap_poll_seconds=3600)
    run(ingestor)
    assert [m.subject for m in stored(mailbox)] == ["Welcome"]
    session = ingestor.sessions[mailbox.pk]
    assert session.supports_idle
    assert session.idling
    dovecot.append(mail(1), folder)
    run(ingestor, until=lambda: len(stored(mailbox)) == 2)
    assert [m.subject for m in stored(mailbox)] == ["Welcome", "Question 1"]
    assert IngestLease.objects.get(mailbox=mailbox).idle is True


def test_a_server_without_idle_is_polled_at_the_mailbox_interval(
    dovecot_without_idle, folder, ingestor, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(ingest.time, "monotonic", lambda: clock[0])
    mailbox = receiving_mailbox(dovecot_without_idle, folder, imap_poll_seconds=60)
    run(ingestor)
    assert not ingestor.sessions[mailbox.pk].supports_idle
    dovecot_without_idle.append(mail(2), folder)
    clock[0] += 59
    run(ingestor)
    assert len(stored(mailbox)) == 1, "looked again before the poll interval was over"
    clock[0] += 1
    run(ingestor)
    assert [m.subject for m in stored(mailbox)] == ["Welcome", "Question 2"]
    assert IngestLease.objects.get(mailbox=mailbox).idle is False


def test_the_cursor_survives_a_restart_and_nothing_is_fetched_twice(dovecot, folder, monkeypatch):
    mailbox = receiving_mailbox(dovecot, folder)
    dovecot.append(mail(3), folder)
    first = ingest.Ingestor()
    run(first)
    first.close()
    fetched: list[int] = []
    original = ingest.Session.fetch

    def spy(self: ingest.Session, uids: list[int], max_bytes: int) -> list[ingest.Fetched]:
        fetched.extend(uids)
        return original(self, uids, max_bytes)

    monkeypatch.setattr(ingest.Session, "fetch", spy)
    dovecot.append(mail(4), folder)
    second = ingest.Ingestor()
    try:
        run(second)
    finally:
        second.close()
    assert [m.subject for m in stored(mailbox)] == ["Welcome", "Question 3", "Question 4"]
    assert fetched == [stored(mailbox)[-1].uid], "the restarted worker fetched old mail again"
    assert FolderCursor.objects.get(mailbox=mailbox).last_uid == stored(mailbox)[-1].uid


def test_a_uidvalidity_change_reads_the_folder_again_without_duplicates(dovecot, folder, ingestor):
    mailbox = receiving_mailbox(dovecot, folder)
    dovecot.append(mail(5), folder)
    run(ingestor)
    before = FolderCursor.objects.get(mailbox=mailbox).uidvalidity
    ingestor.close()
    # The folder is re-created (as a restore or a server migration would): new UIDVALIDITY,
    # the same messages again, and one new.
    client = dovecot.client()
    client.delete(f'"{folder}"')
    client.logout()
    dovecot.append(b"From: a@example.org\r\nSubject: Welcome\r\n\r\nHello.\r\n", folder)
    dovecot.append(mail(5), folder)
    dovecot.append(mail(6), folder)
    run(ingestor)
    cursor = FolderCursor.objects.get(mailbox=mailbox)
    assert cursor.uidvalidity != before
    subjects = sorted(m.subject for m in stored(mailbox))
    assert subjects == ["Question 5", "Question 6", "Welcome"]
    assert InboundMessage.objects.get(subject="Question 6").status == "processed"


def test_a_poison_message_is_quarantined_and_the_next_one_still_ingested(dovecot, folder, ingestor):
    mailbox = receiving_mailbox(dovecot, folder)
    dovecot.append(b"this is not an email message at all\r\n", folder)
    dovecot.append(mail(7), folder)
    run(ingestor)
    poison, good = stored(mailbox)[1:]
    assert poison.status == "quarantined"
    assert "UnreadableMessage" in poison.error
    assert bytes(poison.raw).startswith(b"this is not an email")
    assert good.status == "processed"
    assert good.kind == "new"


def test_only_one_worker_reads_a_mailbox_at_a_time(dovecot, folder, ingestor):
    mailbox = receiving_mailbox(dovecot, folder)
    run(ingestor)
    other = ingest.Ingestor()
    try:
        other.step()
        assert mailbox.pk not in other.sessions
        assert IngestLease.objects.get(mailbox=mailbox).runner == ingestor.runner
        ingestor.close()  # gives the mailbox back
        dovecot.append(mail(8), folder)
        run(other)
        assert IngestLease.objects.get(mailbox=mailbox).runner == other.runner
        assert len(stored(mailbox)) == 2
    finally:
        other.close()


def test_processed_mail_is_moved_to_the_mailbox_folder(dovecot, folder, ingestor):
    mailbox = receiving_mailbox(dovecot, folder, imap_move_to=f"{folder}-done")
    dovecot.append(mail(9), folder)
    run(ingestor)
    assert all(m.moved for m in stored(mailbox))
    client = dovecot.client()
    try:
        assert client.select(f'"{folder}"')[1] == [b"0"]
        assert client.select(f'"{folder}-done"')[1] == [b"2"]
    finally:
        client.logout()


def test_a_message_over_the_size_limit_is_quarantined_with_its_headers_only(
    dovecot, folder, ingestor, settings
):
    settings.INBOUND_MAX_MESSAGE_MB = 1
    mailbox = receiving_mailbox(dovecot, folder)
    dovecot.append(mail(10, body="x" * 1_200_000), folder)
    run(ingestor)
    large = stored(mailbox)[-1]
    assert large.status == "quarantined"
    assert "over the 1 MB limit" in large.error
    assert large.size > 1_200_000 > len(bytes(large.raw))
    assert large.subject == "Question 10"


class _Answers:
    """An IMAP client stand-in that answers UID commands from a script."""

    def __init__(self, *answers: tuple[str, list]) -> None:
        self.answers = list(answers)

    def uid(self, command: str, *args: str) -> tuple[str, list]:
        return self.answers.pop(0)


def _session(client: _Answers) -> ingest.Session:
    session = object.__new__(ingest.Session)
    session.client = client  # type: ignore[assignment]
    return session


@pytest.mark.django_db(False)
def test_a_uid_after_the_message_literal_is_read_too():
    session = _session(
        _Answers(
            ("OK", [b"1 (UID 7 RFC822.SIZE 5)", b"2 (RFC822.SIZE 6 UID 8)"]),
            (
                "OK",
                [
                    (b"1 (UID 7 BODY[] {5}", b"A: b\n"),
                    b")",
                    (b"2 (BODY[] {6}", b"C: dd\n"),
                    b" UID 8)",
                ],
            ),
        )
    )
    fetched = session.fetch([7, 8], max_bytes=100)
    assert [(f.uid, f.raw, f.size, f.error) for f in fetched] == [
        (7, b"A: b\n", 5, ""),
        (8, b"C: dd\n", 6, ""),
    ]


@pytest.mark.django_db(False)
def test_an_unreadable_fetch_answer_becomes_a_placeholder_not_a_gap():
    session = _session(
        _Answers(
            ("OK", [b"1 (UID 7 RFC822.SIZE 5)", b"2 (UID 8 RFC822.SIZE 6)"]),
            ("OK", [(b"1 (UID 7 BODY[] {5}", b"A: b\n"), b")", b"2 (garbled)"]),
            ("OK", [b"8"]),  # UID 8 still exists: it must not be skipped silently
        )
    )
    fetched = session.fetch([7, 8], max_bytes=100)
    assert [(f.uid, bool(f.error)) for f in fetched] == [(7, False), (8, True)]


@pytest.mark.django_db(False)
def test_uid_sets_are_written_as_ranges():
    assert ingest._uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert ingest._uid_set([4]) == "4"

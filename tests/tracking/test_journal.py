"""The tracking journal: an answered hit is on disk before its answer, and the workers record
each hit exactly once, whatever fails or stops in between."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import logging
import os
import threading
import time

import pytest

from herald.campaigns.models import Event
from herald.tracking import journal, recording
from herald.tracking.models import JournalCursor

pytestmark = pytest.mark.django_db(transaction=True)

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


@pytest.fixture
def folder(tmp_path, settings):
    settings.TRACKING_JOURNAL_DIR = tmp_path / "journal"
    return settings.TRACKING_JOURNAL_DIR


def _line(delivery_id: int, *, at: float | None = None, agent: str = AGENT) -> bytes:
    when = at if at is not None else dt.datetime.now(dt.UTC).timestamp() + 3600
    return journal.encode(recording.OPEN, delivery_id, when, False, None, "198.51.100.7", agent)


def _write(writer: journal.Writer, lines: list[bytes]) -> None:
    """Submits the lines from one event loop; returns once the writer said each is written."""

    async def all_of_them():
        loop = asyncio.get_running_loop()
        written = [loop.create_future() for _ in lines]
        for line, future in zip(lines, written, strict=True):
            writer.submit(line, future.set_result)
        # Bounded: a writer that never answers fails the test instead of hanging it.
        assert await asyncio.wait_for(asyncio.gather(*written), 60) == [None] * len(lines)

    asyncio.run(all_of_them())


def test_a_line_reads_back_as_the_hit_it_was():
    at = dt.datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=dt.UTC)
    hit = recording.Hit(
        recording.CLICK, 42, at, user_agent="Odd\tagent\r\nhere", ip="2001:db8::1", link=3
    )
    line = journal.encode(
        hit.kind, hit.delivery_id, hit.at.timestamp(), hit.head, hit.link, hit.ip, hit.user_agent
    )
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")
    back = journal.decode(line[:-1])
    assert back == recording.Hit(
        recording.CLICK, 42, at, user_agent="Odd agent  here", ip="2001:db8::1", link=3
    )
    with pytest.raises(ValueError, match="unknown kind"):
        journal.decode(b"rate\t1\t2\t0\t\t\t")


@pytest.mark.parametrize("fsync", [False, True], ids=["default", "fsync"])
def test_an_answered_hit_is_in_the_file_before_its_answer(folder, settings, monkeypatch, fsync):
    settings.TRACKING_JOURNAL_FSYNC = fsync
    monkeypatch.setattr(journal, "LAZY_SYNC_SECONDS", 3600)  # the syncer waits for the stop
    real_sync = os.fdatasync
    synced: list[int] = []

    def sync(fd: int) -> None:
        real_sync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(journal.os, "fdatasync", sync)
    writer = journal.Writer()
    line = _line(7)
    try:
        _write(writer, [line])
        # Read through another open file, as a worker would if Herald were killed right now.
        (segment,) = folder.glob("*.hits")
        assert segment.read_bytes() == line
        # With fsync the answer also waited for the disk; by default the syncer does it later.
        assert synced == ([len(line)] if fsync else [])
    finally:
        writer.stop()
    assert synced[-1] == len(line)  # stopping syncs what was written


def test_without_fsync_answers_never_wait_for_a_sync_and_everything_is_synced_at_stop(
    folder, settings, monkeypatch
):
    # The embedded default (SQLite): syncs happen beside the answers. On ext4 a sync can wait
    # a long time behind other files' writes; answers must not wait with it.
    settings.TRACKING_JOURNAL_FSYNC = False
    monkeypatch.setattr(journal, "LAZY_SYNC_SECONDS", 0.01)
    real_sync = os.fdatasync
    syncing, release = threading.Event(), threading.Event()
    synced_sizes: list[int] = []

    def slow_sync(fd: int) -> None:
        syncing.set()
        assert release.wait(30), "the test never released the sync"
        real_sync(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(journal.os, "fdatasync", slow_sync)
    writer = journal.Writer()
    first, second = _line(7), _line(8)
    try:
        _write(writer, [first])
        assert syncing.wait(30), "the syncer never synced the segment"
        _write(writer, [second])  # answered while the sync of the first is still under way
        (segment,) = folder.glob("*.hits")
        assert segment.read_bytes() == first + second
    finally:
        release.set()
        writer.stop()
    assert synced_sizes[-1] == len(first + second)  # the last sync saw both lines


def test_hits_are_recorded_once_though_recording_fails_midway(
    send_campaign, folder, settings, monkeypatch
):
    sent = send_campaign()
    ids = [sent.delivery(a).pk for a in ("ann@example.com", "bob@example.com", "cy@example.com")]
    writer = journal.Writer()
    _write(writer, [_line(ids[n % 3]) for n in range(10)])
    settings.TRACKING_BATCH = 4  # three statements' worth
    real = recording.record
    calls = []

    def failing_third(hits):
        calls.append(len(hits))
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return real(hits)

    monkeypatch.setattr(recording, "record", failing_third)
    with pytest.raises(RuntimeError):
        journal.import_step()
    assert Event.objects.filter(kind="opened").count() == 0  # all of that read, or nothing
    assert not JournalCursor.objects.exists()
    monkeypatch.setattr(recording, "record", real)
    journal.import_all()
    journal.import_all()
    assert Event.objects.filter(kind="opened").count() == 10
    writer.stop()
    journal.import_all()  # the finished segment is recorded whole: deleted, then forgotten
    journal.import_all()
    assert list(folder.glob("*.hits")) == []
    assert not JournalCursor.objects.exists()
    assert Event.objects.filter(kind="opened").count() == 10


def test_a_cut_line_waits_for_its_writer_and_is_dropped_once_the_segment_is_finished(
    send_campaign, folder, caplog
):
    sent = send_campaign()
    ann = sent.delivery("ann@example.com").pk
    folder.mkdir(parents=True)
    segment = folder / "host-1-1.hits"
    fd = os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer's lock
    whole = _line(ann) + b"not a hit\n" + _line(ann)
    os.write(fd, whole + _line(ann)[:15])
    with caplog.at_level(logging.WARNING, logger="herald.tracking.journal"):
        journal.import_all()
    assert Event.objects.filter(kind="opened").count() == 2
    assert "is not a hit" in caplog.text
    assert JournalCursor.objects.get(segment=segment.name).offset == len(whole)
    os.write(fd, _line(ann)[15:])  # the writer completes its line
    journal.import_all()
    assert Event.objects.filter(kind="opened").count() == 3
    os.write(fd, _line(ann)[:10])
    os.close(fd)  # ...and then dies in the middle of another
    with caplog.at_level(logging.WARNING, logger="herald.tracking.journal"):
        journal.import_all()
    assert "partial line" in caplog.text
    assert not segment.exists()
    assert Event.objects.filter(kind="opened").count() == 3


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "synced-beside"])
def test_full_segments_are_replaced_recorded_and_deleted(
    send_campaign, folder, settings, monkeypatch, fsync
):
    settings.TRACKING_JOURNAL_FSYNC = fsync
    monkeypatch.setattr(journal, "LAZY_SYNC_SECONDS", 0.01)
    sent = send_campaign()
    bob = sent.delivery("bob@example.com").pk
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 300)
    writer = journal.Writer()
    try:
        for _ in range(6):  # one group each: a segment holds about two
            _write(writer, [_line(bob)])
        assert len(list(folder.glob("*.hits"))) >= 3
        # Without fsync a replaced segment is finished once the syncer has synced it.
        deadline = time.monotonic() + 30
        while len(list(folder.glob("*.hits"))) > 1 and time.monotonic() < deadline:
            journal.import_all()
            time.sleep(0.01)
        journal.import_all()  # the cursors of the deleted segments go at the next step
        assert Event.objects.filter(kind="opened").count() == 6
        assert len(list(folder.glob("*.hits"))) == 1  # the one still being written
        assert JournalCursor.objects.count() == 1
    finally:
        writer.stop()


def test_hits_of_a_delivery_that_is_gone_are_left_out(send_campaign, folder):
    sent = send_campaign()
    writer = journal.Writer()
    _write(writer, [_line(10**9), _line(sent.delivery("cy@example.com").pk)])
    writer.stop()
    journal.import_all()
    assert list(Event.objects.filter(kind="opened").values_list("delivery__email", flat=True)) == [
        "cy@example.com"
    ]

"""The tracking journal: opens and clicks written to local disk before they are answered, then
moved into the database by the workers.

The open pixel and the click redirect are Herald's most frequent requests, and writing each
into the database while the recipient waits (events, engagement row, tallies, list-member
statuses: ``recording.record``) costs several times what answering does. So the fast path
(``fastpath``) appends each hit as one line to this process's *segment* file and answers once
the line is written, in group commit: the lines of one turn of the event loop are written at
once. Herald's workers (the ``tracking-journal`` loop) then read the segments and record their
hits with ``recording.record``, moving the segment's cursor in the same transaction, so that
each hit is recorded exactly once whatever crashes in between. Events reach the statistics
within a second or two of the request, or, under a burst faster than the database takes them,
as soon as the workers have caught up; nothing is lost meanwhile.

A hit is answered once it is written to the operating system: from then on it survives Herald
crashing or being killed, as a committed row does. A syncer thread syncs the segment every
``LAZY_SYNC_SECONDS``: a machine losing power loses at most the last second of hits, as PostgreSQL
with ``synchronous_commit=off`` may lose its last commits (Kafka, by default, leaves syncing to the
operating system altogether). The writer never syncs itself: on ext4 a sync can wait hundreds of
milliseconds behind other files' writes, the database's among them, and answers would wait with it.
With ``TRACKING_JOURNAL_FSYNC`` each group is synced with ``fdatasync`` before its answers go out,
as a PostgreSQL commit waits for its WAL; that halves the requests answered on the machines measured
(bench/README.md), for hits that are statistics, not orders.

Segments live in ``TRACKING_JOURNAL_DIR`` (``$HERALD_DATA_DIR/tracking``): the web processes and
the workers of one machine must share it (``herald run`` is both). Each web process writes its
own segment (named after the host, the process and the time it began), holding an exclusive
``flock`` on it while it may still write; a segment whose lock is free was finished (its writer
rotated it at ``SEGMENT_BYTES`` or ended) and is deleted once it is recorded whole. A line cut
short by a crash was never answered and is dropped with a warning.

A line: ``kind TAB delivery TAB microseconds since 1970 TAB head TAB link TAB ip TAB user agent``
(the user agent last, its tabs made spaces; a header holds no line break).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from django.conf import settings
from django.db import connection, transaction

from herald.tracking import recording
from herald.tracking.models import JournalCursor

logger = logging.getLogger(__name__)

SUFFIX = ".hits"
SEGMENT_BYTES = 64 * 1024 * 1024  # a segment this large is finished and a new one begun
READ_BYTES = 2 * 1024 * 1024  # read per step of the importer (about 15,000 hits)
GROUP = 20_000  # hits synced together at most
LAZY_SYNC_SECONDS = 1.0  # without TRACKING_JOURNAL_FSYNC: how often a segment is synced
# The importer's thread runs this much nicer than the rest of the worker: when the machine is
# busy answering, recording waits (its backlog is on disk already) and catches up after.
IMPORT_NICE = 10

Done = Callable[[BaseException | None], None]
_T = TypeVar("_T")
_Group = tuple[list[bytes], "asyncio.AbstractEventLoop", list[Done]]


# -- lines ------------------------------------------------------------------------------------


def encode(  # noqa: PLR0917 - a hit's fields, in the line's order
    kind: str, delivery_id: int, at: float, head: bool, link: int | None, ip: str, agent: str
) -> bytes:
    """The line of a hit; ``at`` in seconds since 1970 (``time.time()``)."""
    number = "" if link is None else link
    if "\t" in agent or "\n" in agent or "\r" in agent:
        agent = agent.translate(_SPACES)
    if "\t" in ip or "\n" in ip:
        ip = ip.translate(_SPACES)
    line = f"{kind}\t{delivery_id}\t{round(at * 1e6)}\t{int(head)}\t{number}\t{ip}\t{agent}\n"
    return line.encode("utf-8", "replace")


_SPACES = str.maketrans("\t\r\n", "   ")


def decode(line: bytes) -> recording.Hit:
    """The hit of one line (without its newline); ValueError when it is not one."""
    kind, delivery, micros, head, link, ip, agent = line.decode("utf-8", "replace").split("\t", 6)
    if kind not in (recording.OPEN, recording.CLICK):
        raise ValueError(f"unknown kind {kind!r}")
    at = dt.datetime.fromtimestamp(int(micros) / 1e6, tz=dt.UTC)
    return recording.Hit(
        kind=kind,
        delivery_id=int(delivery),
        at=at,
        user_agent=agent,
        ip=ip,
        head=head == "1",
        link=int(link) if link else None,
    )


def directory() -> Path:
    path = Path(settings.TRACKING_JOURNAL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- writing ----------------------------------------------------------------------------------


class Writer:
    """This process's segment, and the thread that syncs it.

    ``submit`` may be called from any event loop's thread; ``done(None)`` (or ``done(error)``
    when the disk refused) runs in that loop once the line is written. The lines of one turn of
    a loop are written together at the end of it.

    With TRACKING_JOURNAL_FSYNC a writer thread writes and syncs them (a sync takes the disk's
    time, which the loop must not wait for), and the answers go out when it is done. Without it
    the loop writes them itself, to the operating system, and answers at once: a thread between
    the two cost a fifth to a quarter of the requests answered (handing each group to the thread
    and back takes two wake-ups and the interpreter lock twice); a syncer thread syncs the
    segment every LAZY_SYNC_SECONDS."""

    def __init__(self) -> None:
        # Lines and what to call once they are on disk, per event loop; None stops the thread.
        self._queue: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._gathering: dict[asyncio.AbstractEventLoop, tuple[list[bytes], list[Done]]] = {}
        self._threads: list[threading.Thread] = []
        self._segment: _Segment | None = None
        self._writing = threading.Lock()  # the loops of one process take turns (without fsync)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def submit(self, line: bytes, done: Done) -> None:
        loop = asyncio.get_running_loop()
        group = self._gathering.get(loop)
        if group is None:
            if not self._threads or self._pid != os.getpid():
                self._start()
            group = self._gathering[loop] = ([], [])
            loop.call_soon(self._hand_over, loop)
        group[0].append(line)
        group[1].append(done)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        lines, dones = self._gathering.pop(loop)
        segment = self._segment
        if segment is not None and not segment.fsync:
            with self._writing:
                error = segment.append(b"".join(lines), len(lines))
            _settle(dones, error)
        else:
            self._queue.put((lines, loop, dones))  # the writer thread writes, syncs and answers

    def _start(self) -> None:
        with self._lock:
            if self._threads and self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked child starts a segment and threads of its own
            self._queue = queue.SimpleQueue()
            self._gathering = {}
            self._stopping = threading.Event()
            segment = self._segment = _Segment(fsync=settings.TRACKING_JOURNAL_FSYNC)
            work, name = (self._run, "journal") if segment.fsync else (self._sync, "journal-sync")
            self._threads = [
                threading.Thread(
                    target=work, args=(segment,), name=f"herald-tracking-{name}", daemon=True
                )
            ]
            self._threads[0].start()

    def stop(self, timeout: float = 10) -> None:
        """Writes and syncs what was submitted, then finishes the segment (the importer may
        delete it)."""
        with self._lock:
            threads, self._threads = self._threads, []
        self._queue.put(None)
        self._stopping.set()
        for thread in threads:
            thread.join(timeout)

    def _run(self, segment: _Segment) -> None:
        """With TRACKING_JOURNAL_FSYNC: writes and syncs each group, then has it answered."""
        try:
            while batch := take_batch(self._queue, GROUP, size=lambda group: len(group[0])):
                hits = sum(len(lines) for lines, _, _ in batch)
                error = segment.append(b"".join(b"".join(lines) for lines, _, _ in batch), hits)
                for _, loop, dones in batch:
                    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                        loop.call_soon_threadsafe(_settle, dones, error)
        finally:
            segment.close()

    def _sync(self, segment: _Segment) -> None:
        """Without TRACKING_JOURNAL_FSYNC: syncs the segment every LAZY_SYNC_SECONDS, and once
        more when stopping, after finishing it."""
        stopping = self._stopping
        while not stopping.wait(LAZY_SYNC_SECONDS):
            segment.sync()
        with self._writing:
            segment.close()
        segment.sync()


class _Segment:
    """The file a process appends to: locked while open, replaced when full.

    Without ``fsync`` (TRACKING_JOURNAL_FSYNC) the writer only writes; ``sync`` (the syncer
    thread) syncs what was written since, and the segments the writer replaced meanwhile, which
    stay open (and locked: not finished for the importer) until then."""

    def __init__(self, *, fsync: bool) -> None:
        self.fsync = fsync
        self.fd: int | None = None
        self.size = 0
        self.path: Path | None = None
        self._lock = threading.Lock()  # between the writer and the syncer
        self._dirty = False  # written since the last sync
        self._replaced: list[int] = []  # finished, to be synced and closed by the syncer

    def append(self, data: bytes, hits: int) -> OSError | None:
        """Writes (and with ``fsync`` syncs) ``data``; the error, when the disk refused."""
        try:
            if self.fd is not None and self.size and self.size + len(data) > SEGMENT_BYTES:
                self.close()
            fd = self.fd if self.fd is not None else self._open()
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fdatasync(fd)
            else:
                self._dirty = True
            self.size += len(data)
        except OSError as exc:
            logger.exception("the tracking journal cannot be written", extra={"hits": hits})
            self.close()  # the next batch starts a new segment
            return exc
        return None

    def sync(self) -> None:
        """Syncs what was written since the last call (the syncer thread)."""
        with self._lock:
            replaced, self._replaced = self._replaced, []
            current = None
            if self._dirty and self.fd is not None:
                current = os.dup(self.fd)  # the writer may replace the segment meanwhile
                self._dirty = False
        for fd in [*replaced, *([current] if current is not None else [])]:
            try:
                os.fdatasync(fd)
            except OSError:
                logger.exception("the tracking journal cannot be synced")
            finally:
                os.close(fd)  # a replaced segment's last descriptor: now finished

    def _open(self) -> int:
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        path = directory() / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours until closed: the importer leaves it on disk
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new name survives a crash too
        finally:
            os.close(dir_fd)
        self.fd, self.size, self.path = fd, os.fstat(fd).st_size, path
        return fd

    def close(self) -> None:
        with self._lock:
            if self.fd is None:
                return
            if self._dirty:  # the syncer syncs it, then closes it
                self._replaced.append(self.fd)
                self._dirty = False
            else:
                os.close(self.fd)  # releases the lock: the segment is finished
            self.fd = None


def take_batch(
    items: queue.SimpleQueue[_T | None], most: int, size: Callable[[_T], int] = lambda _: 1
) -> list[_T]:
    """What a worker thread does next: the first item (waiting for it), then whatever else is
    queued, up to ``most`` (counted by ``size``). Empty once None, the request to stop, is read;
    a None read after other items is put back, so the next call ends the thread."""
    first = items.get()
    if first is None:
        return []
    batch, taken = [first], size(first)
    while taken < most:
        try:
            item = items.get_nowait()
        except queue.Empty:
            break
        if item is None:
            items.put(None)  # stop after this batch
            break
        batch.append(item)
        taken += size(item)
    return batch


def _settle(dones: list[Done], error: BaseException | None) -> None:
    for done in dones:
        done(error)


_writer = Writer()


def writer() -> Writer:
    """The process's writer."""
    return _writer


# -- importing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    waiting_bytes: int  # written by this machine's web processes, not yet in the database
    stale_segments: int  # holding such bytes and unchanged for longer than a worker may take


def backlog(stale_after: float) -> Backlog:
    """What this machine's journal holds that no worker has recorded (for /healthz): a stale
    segment means no worker reads this machine's journal."""
    folder = Path(settings.TRACKING_JOURNAL_DIR)
    if not folder.is_dir():
        return Backlog(0, 0)
    sizes = {}
    for path in folder.glob("*" + SUFFIX):
        with contextlib.suppress(FileNotFoundError):  # recorded and deleted meanwhile
            stat = path.stat()
            sizes[path.name] = (stat.st_size, stat.st_mtime)
    offsets = dict(JournalCursor.objects.filter(segment__in=sizes).values_list("segment", "offset"))
    waiting = stale = 0
    now = time.time()
    for name, (size, modified) in sizes.items():
        behind = size - offsets.get(name, 0)
        waiting += max(behind, 0)
        if behind > 0 and now - modified > stale_after:
            stale += 1
    return Backlog(waiting, stale)


def import_step(limit: int = READ_BYTES) -> bool:
    """Records what the segments hold and the database does not yet; deletes finished ones.
    Says whether more is waiting (a worker loop's step)."""
    folder = directory()
    names = sorted(p.name for p in folder.glob("*" + SUFFIX))
    more = False
    for name in names:
        more |= _import_segment(folder / name, limit)
    _forget_deleted(names)
    return more


def import_close() -> None:
    """The worker loop's end: its thread's database connection is closed."""
    connection.close()


def import_all() -> None:
    """Records everything the segments hold now (tests)."""
    while import_step():
        pass


def _import_segment(path: Path, limit: int) -> bool:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return False  # another worker finished it
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            finished = True  # its writer closed it
        except BlockingIOError:
            finished = False
        # One importer per segment at a time on this machine (a lock file beside it).
        with _ImportLock(path) as mine:
            if not mine:
                return False
            return _import_from(path, handle, finished, limit)


class _ImportLock:
    def __init__(self, path: Path) -> None:
        self.lock_path = path.with_suffix(".lock")
        self.fd: int | None = None

    def __enter__(self) -> bool:
        self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _import_from(path: Path, handle: BinaryIO, finished: bool, limit: int) -> bool:
    cursor = JournalCursor.objects.filter(segment=path.name).first()
    offset = cursor.offset if cursor is not None else 0
    size = path.stat().st_size
    if offset < size:
        handle.seek(offset)
        data = handle.read(limit)
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) < limit:
            if finished:  # a line its writer never completed: it was never answered
                logger.warning(
                    "a partial line at the end of a tracking journal segment was dropped",
                    extra={"segment": path.name, "bytes": len(data)},
                )
                end = len(data)
            else:
                return False  # the rest of the line is being written
        hits = []
        for number, line in enumerate(data[:end].split(b"\n")):
            if not line:
                continue
            try:
                hits.append(decode(line))
            except ValueError as exc:
                logger.warning(
                    "a tracking journal line is not a hit and was skipped",
                    extra={"segment": path.name, "line_in_read": number + 1, "error": str(exc)},
                )
        with transaction.atomic():
            for start in range(0, len(hits), settings.TRACKING_BATCH):
                recording.record(hits[start : start + settings.TRACKING_BATCH])
            JournalCursor.objects.update_or_create(
                segment=path.name, defaults={"offset": offset + end}
            )
        offset += end
    if finished and offset >= size:
        path.unlink(missing_ok=True)  # its cursor row goes at the next step (_forget_deleted)
        path.with_suffix(".lock").unlink(missing_ok=True)
        return False
    return offset < size


def _forget_deleted(present: list[str]) -> None:
    """Cursor rows of this machine's segments that are gone (recorded whole and deleted)."""
    folder = directory()
    prefix = socket.gethostname() + "-"
    rows = JournalCursor.objects.filter(segment__startswith=prefix).values_list(
        "segment", flat=True
    )
    # A segment is deleted after its last cursor update committed, and a name never comes back;
    # one another worker began meanwhile is on disk now, so it is not counted as gone.
    stale = [name for name in rows if name not in present and not (folder / name).exists()]
    if stale:
        JournalCursor.objects.filter(segment__in=stale).delete()

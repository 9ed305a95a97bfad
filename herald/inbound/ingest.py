"""Ingestion: the worker loop that reads each receiving mailbox's IMAP folder (imap-tools).

One ``Ingestor`` per worker thread. A step, for each mailbox with "receive email" on:

1. takes (or renews) the mailbox's lease: one worker reads a mailbox at a time; a worker that
   dies leaves its lease to run out (``INBOUND_LEASE_SECONDS``) and another takes over;
2. when the mailbox is due (IDLE reported news, or the poll interval ran out, or it was never
   read), SELECTs the folder and fetches the messages after the cursor's last UID, a batch at a
   time; each batch is stored raw, and the cursor advanced, in one transaction (so a restart
   neither loses nor fetches twice what was committed);
3. processes the stored messages (``herald.inbound.processing``): a message that fails is
   quarantined, the others go on;
4. moves processed messages to the mailbox's "processed" folder when it has one;
5. waits: in IDLE where the server offers it (RFC 2177, renewed every ``IDLE_RENEW_SECONDS``),
   else until the mailbox's poll interval is over.

When the folder's UIDVALIDITY changes (the folder was re-created, or the server rebuilt its
index), the UIDs before it mean nothing any more: the folder is read again from the start, and
what was stored already is recognised by its Message-ID (or, without one, by its bytes' hash).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.parser
import hashlib
import imaplib
import logging
import re
import select
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from email.policy import compat32

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.imap_utf7 import utf7_encode

from herald.inbound import mime
from herald.inbound.models import FolderCursor, InboundMessage, InboundStatus, IngestLease
from herald.inbound.processing import process_pending
from herald.mailboxes.models import Mailbox, SmtpSecurity

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0  # seconds for connecting and for each command's answer
IDLE_RENEW_SECONDS = 300.0  # RFC 2177 asks for less than 29 minutes; NAT boxes want less
IDLE_WAIT_SECONDS = 1.0  # a step waits this long at most on idling connections
RETRY_SECONDS = 30.0  # after a connection failure, the mailbox is tried again this much later
MOVE_BATCH = 500


class LostLease(RuntimeError):  # noqa: N818 - a state, not a failure
    """Another worker took the mailbox over (this one was presumed dead): stop without writing."""


def _tls_context() -> ssl.SSLContext:
    from herald.mailboxes.connection import tls_context

    return tls_context() or ssl.create_default_context()


def connect(mailbox: Mailbox) -> BaseMailBox:
    """A logged-in imap-tools connection to the mailbox's IMAP server (nothing selected)."""
    host, port = mailbox.imap_host, mailbox.imap_port
    box: BaseMailBox
    if mailbox.imap_security == SmtpSecurity.TLS:
        box = MailBox(host, port, timeout=CONNECT_TIMEOUT, ssl_context=_tls_context())
    elif mailbox.imap_security == SmtpSecurity.STARTTLS:
        box = MailBoxStartTls(host, port, timeout=CONNECT_TIMEOUT, ssl_context=_tls_context())
    else:
        box = MailBoxUnencrypted(host, port, timeout=CONNECT_TIMEOUT)
    try:
        if mailbox.uses_oauth:
            from herald.mailboxes import oauth
            from herald.mailboxes.connection import imap_oauth_login

            imap_oauth_login(box.client, mailbox.imap_login, oauth.access_token(mailbox))
        else:
            box.login(mailbox.imap_username, mailbox.imap_password, initial_folder=None)
        # The capabilities after login are the ones that count (IDLE, MOVE may appear only then).
        status, data = box.client.capability()
        if status == "OK" and data and data[-1]:
            box.client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
    except BaseException:
        with contextlib.suppress(Exception):
            box.client.shutdown()
        raise
    return box


def _folder(name: str) -> str:
    # imaplib sends arguments as they are: an IMAP quoted string, modified UTF-7 (RFC 3501).
    encoded = utf7_encode(name).decode("ascii")
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    size: int
    whole: bool  # False: over the size limit, headers only
    error: str = ""  # the answer could not be read: stored as a quarantined placeholder


class Session:
    """One mailbox's IMAP connection, with its folder selected, and its IDLE state."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox_id = mailbox.pk
        self.key = session_key(mailbox)
        self.folder = mailbox.imap_folder or "INBOX"
        self.box = connect(mailbox)
        self.client = self.box.client
        self.supports_idle = "IDLE" in self.client.capabilities
        self.idling = False
        self.idle_since = 0.0
        self.next_poll = 0.0  # monotonic time of the next look when not idling
        self.news = True  # look now (first connection, IDLE said something)

    # -- reading -----------------------------------------------------------------------------

    def select(self) -> tuple[int, int]:
        """SELECTs the folder; returns its UIDVALIDITY and its message count."""
        status, data = self.client.select(_folder(self.folder))
        if status != "OK":
            words = data[-1].decode("utf-8", "replace") if data and data[-1] else ""
            raise imaplib.IMAP4.error(f"SELECT {self.folder}: {words}")
        count = data[0] if data else b"0"
        return self.uidvalidity(), int(count) if isinstance(count, bytes) and count else 0

    def uidvalidity(self) -> int:
        """The selected folder's UIDVALIDITY, as the SELECT answered it."""
        value = self.client.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
        return int(value if isinstance(value, bytes) else value[0])

    def uids_after(self, last_uid: int) -> list[int]:
        """The folder's UIDs above ``last_uid``, ascending."""
        status, data = self.client.uid("SEARCH", f"UID {last_uid + 1}:*")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH: {data!r}")
        found = sorted({int(u) for u in b" ".join(d for d in data if d).split()})
        # "n:*" always includes the last message, even when its UID is below n (RFC 3501 6.4.8).
        return [u for u in found if u > last_uid]

    def fetch(self, uids: list[int], max_bytes: int) -> list[Fetched]:
        """The messages (raw bytes), a message over ``max_bytes`` with its headers only; a
        message the server lists but whose answer cannot be read comes with an ``error``."""
        if not uids:
            return []
        sizes = self._fetch(uids, "(UID RFC822.SIZE)")
        size_of = {uid: int(_item(meta, b"RFC822.SIZE") or 0) for uid, meta, _ in sizes}
        small = [u for u in uids if size_of.get(u, 0) <= max_bytes]
        large = [u for u in uids if size_of.get(u, 0) > max_bytes]
        out = [
            Fetched(uid, raw, size_of.get(uid, len(raw)), True)
            for uid, _meta, raw in self._fetch(small, "(UID BODY.PEEK[])")
        ]
        out += [
            Fetched(uid, raw, size_of.get(uid, 0), False)
            for uid, _meta, raw in self._fetch(large, "(UID BODY.PEEK[HEADER])")
        ]
        missing = sorted(set(uids) - {f.uid for f in out})
        if missing:
            # Expunged since the SEARCH (nothing to keep), or an answer this client cannot
            # read: kept as a quarantined placeholder, so that it is seen and never skipped
            # silently.
            for uid in self._still_there(missing):
                error = "the server's answer to FETCH could not be read"
                out.append(Fetched(uid, b"", size_of.get(uid, 0), False, error))
        return sorted(out, key=lambda f: f.uid)

    def _still_there(self, uids: list[int]) -> list[int]:
        status, data = self.client.uid("SEARCH", f"UID {_uid_set(uids)}")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH: {data!r}")
        found = {int(u) for u in b" ".join(d for d in data if d).split()}
        return [u for u in uids if u in found]

    def _fetch(self, uids: list[int], items: str) -> list[tuple[int, bytes, bytes]]:
        """``(uid, response text, literal)`` per message of a UID FETCH. imaplib gives a
        tuple (text up to the literal, literal) and then the rest of the response as bytes,
        where some servers put the UID (after the message)."""
        if not uids:
            return []
        status, data = self.client.uid("FETCH", _uid_set(uids), items)
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID FETCH: {data!r}")
        out: list[tuple[int, bytes, bytes]] = []

        def add(meta: bytes, payload: bytes) -> None:
            uid = _item(meta, b"UID")
            if uid is not None:
                out.append((int(uid), meta, payload))

        pending: tuple[bytes, bytes] | None = None
        for entry in data:
            if isinstance(entry, tuple):
                if pending is not None:
                    add(*pending)
                pending = (bytes(entry[0]), bytes(entry[1]))
            elif isinstance(entry, bytes):
                if pending is not None:
                    add(pending[0] + entry, pending[1])
                    pending = None
                else:
                    add(entry, b"")
        if pending is not None:
            add(*pending)
        return out

    def move(self, uids: list[int], folder: str) -> None:
        if not uids:
            return
        self.client.create(_folder(folder))  # NO when it exists: fine
        if "MOVE" in self.client.capabilities:
            status, data = self.client.uid("MOVE", _uid_set(uids), _folder(folder))
        else:
            status, data = self.client.uid("COPY", _uid_set(uids), _folder(folder))
            if status == "OK":
                self.client.uid("STORE", _uid_set(uids), "+FLAGS.SILENT", r"(\Deleted)")
                self.client.expunge()
        if status != "OK":
            raise imaplib.IMAP4.error(f"moving to {folder}: {data!r}")

    # -- IDLE --------------------------------------------------------------------------------

    def start_idle(self) -> None:
        self.box.idle.start()
        self.idling, self.idle_since = True, time.monotonic()

    def stop_idle(self) -> None:
        if self.idling:
            self.idling = False
            self.box.idle.stop()

    def readable(self) -> bool:
        """Whether the server said something while idling (buffered TLS data counts)."""
        sock = self.client.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        ready, _, _ = select.select([sock], [], [], 0)
        return bool(ready)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_idle()
        with contextlib.suppress(Exception):
            self.client.logout()
        with contextlib.suppress(Exception):
            self.client.shutdown()


def _item(meta: bytes, name: bytes) -> bytes | None:
    match = re.search(rb"\b" + re.escape(name) + rb" (\d+)", meta)
    return match.group(1) if match else None


def _uid_set(uids: list[int]) -> str:
    """``1:3,7,9:10`` for [1, 2, 3, 7, 9, 10]: short commands for long runs."""
    ranges: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    ranges.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(ranges)


def session_key(mailbox: Mailbox) -> tuple[object, ...]:
    """What the connection depends on: a change of any of these reconnects."""
    return (
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.imap_security,
        mailbox.imap_username,
        mailbox.imap_password_encrypted,
        mailbox.imap_folder,
    )


# -- storing ----------------------------------------------------------------------------------

_HEADERS = email.parser.BytesHeaderParser(policy=compat32)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def summary(raw: bytes) -> tuple[str, str, str]:
    """The de-duplication key, sender and subject of raw bytes (headers only are parsed)."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw[:65536]
    headers = _HEADERS.parsebytes(head)
    ids = mime.message_ids(mime.header(headers, "Message-ID"))
    key = ids[0][:500] if ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    sender = mime.addresses(headers, "From")
    return key, (sender[0] if sender else "")[:320], mime.header(headers, "Subject")[:500]


def store(
    mailbox_id: int, folder: str, uidvalidity: int, fetched: list[Fetched], runner: str
) -> int:
    """Stores a batch raw and moves the folder's cursor past it, in one transaction; returns the
    number of new rows (messages already stored are recognised by their key and skipped)."""
    rows: dict[str, InboundMessage] = {}
    for item in fetched:
        if item.error:
            key, sender, subject = f"uid:{uidvalidity}:{item.uid}", "", ""
        else:
            key, sender, subject = summary(item.raw)
        if key in rows:
            continue
        error = item.error
        if not item.whole and not error:
            error = (
                f"the message is {item.size / 1048576:.1f} MB, over the "
                f"{settings.INBOUND_MAX_MESSAGE_MB} MB limit (HERALD_INBOUND_MAX_MESSAGE_MB): "
                "only its headers were fetched"
            )
        rows[key] = InboundMessage(
            mailbox_id=mailbox_id,
            folder=folder[:255],
            uidvalidity=uidvalidity,
            uid=item.uid,
            message_key=key,
            raw=item.raw,
            size=item.size,
            from_address=sender,
            subject=subject,
            status=InboundStatus.QUARANTINED if error else InboundStatus.RECEIVED,
            error=error,
        )
    last_uid = max(item.uid for item in fetched)
    now = timezone.now()
    with transaction.atomic():
        if not IngestLease.objects.filter(mailbox_id=mailbox_id, runner=runner).update(
            lease_until=now + dt.timedelta(seconds=settings.INBOUND_LEASE_SECONDS)
        ):
            raise LostLease(mailbox_id)
        known = set(
            InboundMessage.objects.filter(
                mailbox_id=mailbox_id, message_key__in=list(rows)
            ).values_list("message_key", flat=True)
        )
        new = [row for key, row in rows.items() if key not in known]
        InboundMessage.objects.bulk_create(new, ignore_conflicts=True)
        FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=folder).update(
            uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
        )
    return len(new)


# -- leases -----------------------------------------------------------------------------------


def take_lease(mailbox_id: int, runner: str, now: dt.datetime) -> dt.datetime | None:
    """Takes or renews the mailbox's lease for ``runner``; its end, or None if another live
    worker holds it. One conditional UPDATE: two workers can never both get it."""
    IngestLease.objects.get_or_create(mailbox_id=mailbox_id)
    until = now + dt.timedelta(seconds=settings.INBOUND_LEASE_SECONDS)
    free = Q(runner=runner) | Q(runner="") | Q(lease_until=None) | Q(lease_until__lt=now)
    taken = IngestLease.objects.filter(free, mailbox_id=mailbox_id).update(
        runner=runner, lease_until=until
    )
    return until if taken else None


def release_lease(mailbox_id: int, runner: str) -> None:
    IngestLease.objects.filter(mailbox_id=mailbox_id, runner=runner).update(
        runner="", lease_until=None
    )


def _note(mailbox_id: int, **fields: object) -> None:
    IngestLease.objects.filter(mailbox_id=mailbox_id).update(**fields)


# -- the loop ---------------------------------------------------------------------------------


class Ingestor:
    def __init__(self) -> None:
        self.runner = uuid.uuid4().hex
        self.sessions: dict[int, Session] = {}
        self.leases: dict[int, dt.datetime] = {}  # mailbox -> end of our lease
        self.retry_at: dict[int, float] = {}  # mailbox -> monotonic time of the next attempt

    def step(self) -> bool:
        """One pass over the receiving mailboxes; True when there may be more to fetch now."""
        mailboxes = list(
            Mailbox.objects.filter(receive_enabled=True, enabled=True).exclude(imap_host="")
        )
        busy = False
        for mailbox in mailboxes:
            try:
                busy |= self.serve(mailbox)
            except LostLease:
                logger.warning("mailbox taken over by another worker", extra={"mb": mailbox.pk})
                self._drop(mailbox.pk)
            except Exception as exc:
                self._failed(mailbox, exc)
        active = {m.pk for m in mailboxes}
        for gone in (set(self.sessions) | set(self.leases)) - active:
            self._drop(gone)
        if not busy:
            self.wait(IDLE_WAIT_SECONDS)
        return busy

    def serve(self, mailbox: Mailbox) -> bool:
        """Reads one mailbox if it is due; True when more is waiting."""
        if time.monotonic() < self.retry_at.get(mailbox.pk, 0.0):
            return False
        now = timezone.now()
        held = self.leases.get(mailbox.pk)
        window = dt.timedelta(seconds=settings.INBOUND_LEASE_SECONDS / 2)
        if held is None or held - now < window:
            until = take_lease(mailbox.pk, self.runner, now)
            if until is None:
                self._drop(mailbox.pk, release=False)
                return False
            self.leases[mailbox.pk] = until
        session = self.sessions.get(mailbox.pk)
        if session is not None and session.key != session_key(mailbox):
            session.close()
            session = None
        if session is None:
            session = self.sessions[mailbox.pk] = Session(mailbox)
            _note(mailbox.pk, idle=session.supports_idle, error="")
        if not self._due(session, mailbox.imap_poll_seconds):
            return False
        session.stop_idle()
        session.news = False
        more = self.sync(mailbox, session)
        process_pending(mailbox.pk)
        if mailbox.imap_move_to:
            self.move_processed(mailbox, session)
        _note(mailbox.pk, checked_at=timezone.now(), error="")
        if not more:
            if session.supports_idle:
                session.start_idle()
            else:
                session.next_poll = time.monotonic() + mailbox.imap_poll_seconds
        return more

    def _due(self, session: Session, poll_seconds: float) -> bool:
        if session.news:
            return True
        if session.idling:
            if session.readable():
                return True
            # Renewed now and then, and never trusted longer than the poll interval: a
            # notification lost on the way costs at most one interval.
            age = time.monotonic() - session.idle_since
            return age >= min(IDLE_RENEW_SECONDS, poll_seconds)
        return time.monotonic() >= session.next_poll

    def sync(self, mailbox: Mailbox, session: Session) -> bool:
        """Fetches and stores one batch after the cursor; True when more is waiting."""
        uidvalidity, _count = session.select()
        cursor, _ = FolderCursor.objects.get_or_create(mailbox=mailbox, folder=session.folder)
        last = cursor.last_uid
        if cursor.uidvalidity != uidvalidity:
            if cursor.uidvalidity is not None:
                logger.warning(
                    "UIDVALIDITY changed: reading the folder again (known messages are skipped)",
                    extra={"mb": mailbox.pk, "folder": session.folder},
                )
            last = 0
            FolderCursor.objects.filter(pk=cursor.pk).update(uidvalidity=uidvalidity, last_uid=0)
        uids = session.uids_after(last)
        batch = uids[: settings.INBOUND_FETCH_BATCH]
        if not batch:
            return False
        fetched = session.fetch(batch, settings.INBOUND_MAX_MESSAGE_MB * 1024 * 1024)
        if fetched:
            store(mailbox.pk, session.folder, uidvalidity, fetched, self.runner)
        else:  # expunged meanwhile: nothing to store, but never look at these UIDs again
            FolderCursor.objects.filter(pk=cursor.pk).update(last_uid=max(batch))
        return len(uids) > len(batch)

    def move_processed(self, mailbox: Mailbox, session: Session) -> None:
        uidvalidity = session.uidvalidity()
        rows = list(
            InboundMessage.objects.filter(
                mailbox_id=mailbox.pk,
                folder=session.folder,
                uidvalidity=uidvalidity,
                status=InboundStatus.PROCESSED,
                moved=False,
            ).values_list("id", "uid")[:MOVE_BATCH]
        )
        if not rows:
            return
        session.move(sorted(uid for _, uid in rows), mailbox.imap_move_to)
        InboundMessage.objects.filter(pk__in=[pk for pk, _ in rows]).update(moved=True)

    def wait(self, seconds: float) -> None:
        """Waits up to ``seconds`` for any idling connection to hear from its server."""
        idling = [s for s in self.sessions.values() if s.idling]
        if not idling:
            return
        by_socket = {s.client.sock: s for s in idling}
        if any(isinstance(sock, ssl.SSLSocket) and sock.pending() for sock in by_socket):
            return
        with contextlib.suppress(OSError, ValueError):
            select.select(list(by_socket), [], [], seconds)

    def _failed(self, mailbox: Mailbox, exc: Exception) -> None:
        words = str(exc) or exc.__class__.__name__
        logger.warning("reading a mailbox failed", extra={"mb": mailbox.pk, "error": words[:500]})
        session = self.sessions.pop(mailbox.pk, None)
        if session is not None:
            session.close()
        self.retry_at[mailbox.pk] = time.monotonic() + RETRY_SECONDS
        with contextlib.suppress(Exception):
            _note(mailbox.pk, error=f"{exc.__class__.__name__}: {words}"[:1000])

    def _drop(self, mailbox_id: int, *, release: bool = True) -> None:
        session = self.sessions.pop(mailbox_id, None)
        if session is not None:
            session.close()
        if self.leases.pop(mailbox_id, None) is not None and release:
            release_lease(mailbox_id, self.runner)

    def close(self) -> None:
        """Logs out of every server and gives the mailboxes back to other workers."""
        for mailbox_id in list(set(self.sessions) | set(self.leases)):
            try:
                self._drop(mailbox_id)
            except Exception:
                logger.exception("closing an IMAP session failed")


_local = threading.local()


def inbound_step() -> bool:
    """The worker loop's step: this thread's Ingestor does one pass."""
    ingestor = getattr(_local, "ingestor", None)
    if ingestor is None:
        ingestor = _local.ingestor = Ingestor()
    return ingestor.step()


def inbound_close() -> None:
    ingestor = getattr(_local, "ingestor", None)
    if ingestor is not None:
        ingestor.close()
        _local.ingestor = None

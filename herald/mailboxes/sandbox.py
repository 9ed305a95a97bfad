"""The sandbox mailbox: an in-process SMTP server (aiosmtpd) that keeps every message it receives.

It lets a new user run a whole campaign with no mail server and see exactly what recipients would
get; Herald reaches it through the same SMTP code as any real server.

It also closes the loop without an IMAP server: a message addressed to a sandbox mailbox's own
address (its From, its Reply-To, or any ``+r-<token>`` reply address of them) is taken in as
inbound mail of that mailbox (``take_in``), by the same processing as mail read over IMAP:
classification, threading, opt-outs, bounces, conversations. A customer's reply written with the
sandbox viewer's "reply as this customer" goes the same way.
"""

from __future__ import annotations

import email
import email.policy
import logging
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from herald.mailboxes.models import Mailbox, SandboxMessage

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # generous: the sandbox shows attachments too


def _header(message: Any, name: str, limit: int) -> str:
    value = message.get(name)
    return "" if value is None else str(value)[:limit]


def store_message(mail_from: str, rcpt_tos: list[str], raw: bytes) -> SandboxMessage:
    """Keeps one received message; header fields are copied out for listing and search."""
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        subject = _header(parsed, "Subject", 500)
        from_header = _header(parsed, "From", 500)
        to_header = _header(parsed, "To", 1000)
        message_id = _header(parsed, "Message-ID", 500)
    except Exception:  # a malformed header must not lose the message: keep it raw
        logger.warning("sandbox message with unreadable headers kept raw", exc_info=True)
        subject = from_header = to_header = message_id = ""
    with transaction.atomic():
        return SandboxMessage.objects.create(
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            raw=raw,
            subject=subject,
            from_header=from_header,
            to_header=to_header,
            message_id=message_id,
        )


def own_address_key(address: str) -> str:
    """An address as a mailbox's own: lower case, without a ``+r-<token>`` (or any plus) tag."""
    local, _at, domain = address.strip().strip("<>").lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def sandbox_mailbox_for(recipients: list[str]) -> Mailbox | None:
    """The sandbox mailbox one of these recipients belongs to, if any."""
    wanted = {own_address_key(r) for r in recipients if "@" in r}
    if not wanted:
        return None
    for mailbox in Mailbox.objects.filter(is_sandbox=True, enabled=True):
        own = {own_address_key(a) for a in (mailbox.from_address, mailbox.reply_to) if a}
        if own & wanted:
            return mailbox
    return None


def take_in(mailbox: Mailbox, raw: bytes, uid: int) -> int:
    """Stores ``raw`` as inbound mail of ``mailbox`` and processes it; returns the row's id."""
    from herald.inbound.ingest import summary
    from herald.inbound.models import InboundMessage
    from herald.inbound.processing import process_message

    key, sender, subject = summary(raw)
    row, _created = InboundMessage.objects.get_or_create(
        mailbox=mailbox,
        message_key=key,
        defaults={
            "folder": "sandbox",
            "uidvalidity": 0,
            "uid": uid,
            "raw": raw,
            "size": len(raw),
            "from_address": sender,
            "subject": subject,
        },
    )
    process_message(row.pk)
    return row.pk


def answer_address(message: SandboxMessage) -> str:
    """Where the recipient of a sandbox message would reply: its Reply-To, else its From."""
    try:
        parsed = message.parsed()
        for name in ("Reply-To", "From"):
            pairs = getaddresses([str(parsed.get(name, ""))])
            if pairs and pairs[0][1]:
                return pairs[0][1]
    except Exception:  # a message whose headers cannot be read has nobody to reply to
        logger.info("sandbox message without a readable Reply-To or From", exc_info=True)
    return ""


def customer_reply(message: SandboxMessage, text: str) -> tuple[Mailbox, bytes]:
    """The reply the recipient of ``message`` writes (quoting it, as mail programs do), and the
    sandbox mailbox it goes to. ``ValueError`` when the message came from no sandbox mailbox."""
    to = answer_address(message)
    mailbox = sandbox_mailbox_for([to]) if to else None
    if mailbox is None:
        raise ValueError(
            "this message was not sent by a sandbox mailbox: nobody would receive a reply"
        )
    parsed = message.parsed()
    customer = message.rcpt_tos[0] if message.rcpt_tos else "customer@example.com"
    original_id = str(parsed.get("Message-ID", "")).strip()
    references = " ".join(filter(None, [str(parsed.get("References", "")).strip(), original_id]))
    subject = str(parsed.get("Subject", ""))
    reply = EmailMessage(policy=email.policy.SMTP)
    reply["From"] = customer
    reply["To"] = to
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = formatdate(localtime=True)
    reply["Message-ID"] = make_msgid(domain=customer.rpartition("@")[2] or "example.com")
    if original_id:
        reply["In-Reply-To"] = original_id
        reply["References"] = references
    body = parsed.get_body(("plain",))
    quoted = "\n".join("> " + line for line in (body.get_content() if body else "").splitlines())
    when = str(parsed.get("Date", "")) or "earlier"
    reply.set_content(f"{text.strip()}\n\nOn {when}, {to} wrote:\n{quoted}\n")
    return mailbox, reply.as_bytes()


def _store_from_smtp_thread(mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
    # The executor's threads outlive the message: each one's connection is closed after use, so
    # none is left open behind a dead server (or keeps a test database from being dropped).
    # (Here, at the thread's entry, not in store_message: there it would close a caller's
    # connection in the middle of its transaction.)
    try:
        stored = store_message(mail_from, rcpt_tos, raw)
        mailbox = sandbox_mailbox_for(rcpt_tos)
        if mailbox is not None:
            take_in(mailbox, raw, stored.pk)
    finally:
        connection.close()


class SandboxHandler:
    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        await sync_to_async(_store_from_smtp_thread, thread_sensitive=False)(
            str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], raw
        )
        return "250 2.0.0 Message accepted by the Herald sandbox"


class SandboxServer:
    """Runs the sandbox SMTP server on a background thread; ``port=0`` picks a free port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> int:
        if self.port == 0:
            import socket

            with socket.socket() as probe:
                probe.bind((self.host, 0))
                self.port = probe.getsockname()[1]
        self._controller = Controller(
            SandboxHandler(),
            hostname=self.host,
            port=self.port,
            data_size_limit=MAX_MESSAGE_BYTES,
            server_hostname="herald-sandbox",
            ready_timeout=10,
        )
        self._controller.start()
        logger.info("sandbox SMTP server listening", extra={"host": self.host, "port": self.port})
        return self.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

"""The sandbox mailbox: an in-process SMTP server (aiosmtpd) that keeps every message it receives.

It lets a new user run a whole campaign with no mail server and see exactly what recipients would
get; Herald reaches it through the same SMTP code as any real server.
"""

from __future__ import annotations

import email
import email.policy
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from herald.mailboxes.models import SandboxMessage

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


def _store_from_smtp_thread(mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
    # The executor's threads outlive the message: each one's connection is closed after use, so
    # none is left open behind a dead server (or keeps a test database from being dropped).
    # (Here, at the thread's entry, not in store_message: there it would close a caller's
    # connection in the middle of its transaction.)
    try:
        store_message(mail_from, rcpt_tos, raw)
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

"""Servers the mailbox tests connect to: aiosmtpd with STARTTLS and AUTH (``smtp_server``), and
a way to make Herald's connection test trust the tests' throwaway certificates (``trust``)."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.mailboxes import connection
from tests.dialer.smtpd import SmtpServer, self_signed

SMTP_USER, SMTP_PASSWORD = "herald", "smtp-s3cret"


class TlsSmtpServer(SmtpServer):
    cert_pem: bytes


@pytest.fixture
def smtp_server() -> Iterator[TlsSmtpServer]:
    """aiosmtpd on a free port offering STARTTLS, accepting AUTH as SMTP_USER/SMTP_PASSWORD."""
    with tempfile.TemporaryDirectory() as directory:
        cert, key, pem = self_signed(Path(directory), "smtpd.test")
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
    server = TlsSmtpServer(starttls=server_context, users={SMTP_USER: SMTP_PASSWORD})
    server.cert_pem = pem
    yield server
    server.stop()


def trust(monkeypatch: pytest.MonkeyPatch, *pems: bytes) -> None:
    """Herald's connection test trusts these certificates (instead of the system's)."""
    context = ssl.create_default_context(cadata="".join(p.decode("ascii") for p in pems))
    monkeypatch.setattr(connection, "tls_context", lambda: context)

"""Fixtures of the messaging tests: a running sandbox SMTP server the sandbox mailbox points at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from herald.mailboxes.sandbox import SandboxServer


@pytest.fixture
def sandbox_smtp(settings) -> Iterator[SandboxServer]:
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    settings.SANDBOX_SMTP_HOST = "127.0.0.1"
    settings.SANDBOX_SMTP_PORT = port
    yield server
    server.stop()

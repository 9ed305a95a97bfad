"""Fixtures of the messaging tests: a running sandbox SMTP server the sandbox mailbox points at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.sandbox import SandboxServer
from tests.campaigns import conftest as campaigns

smtp = campaigns.smtp
mailbox = campaigns.mailbox
campaign_for = campaigns.make_campaign  # a campaign of a template given by its HTML


@pytest.fixture
def sandbox_smtp(db: None) -> Iterator[SandboxServer]:
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    ensure_sandbox_mailbox("127.0.0.1", port)
    yield server
    server.stop()

"""Mailboxes in Chromium: a manager creates one, generates a DKIM key, tests the connection."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from herald.mailboxes.models import Mailbox
from tests.dialer.smtpd import SmtpServer, self_signed
from tests.dovecot import DovecotServer
from tests.mailboxes.servers import SMTP_PASSWORD, SMTP_USER, trust


@pytest.fixture
def smtp_with_tls() -> Iterator[tuple[SmtpServer, bytes]]:
    with tempfile.TemporaryDirectory() as directory:
        cert, key, pem = self_signed(Path(directory), "smtpd.test")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    server = SmtpServer(starttls=context, users={SMTP_USER: SMTP_PASSWORD})
    yield server, pem
    server.stop()


@pytest.fixture
def imap_server() -> Iterator[DovecotServer]:
    server = DovecotServer()
    yield server
    server.stop()


def test_a_manager_creates_a_mailbox_with_dkim_and_sees_both_connections_green(
    mike, login, live_server, smtp_with_tls, imap_server, monkeypatch
):
    smtp, smtp_pem = smtp_with_tls
    trust(monkeypatch, smtp_pem, imap_server.cert_pem)
    page = login(mike)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mailboxes").click()
    page.get_by_role("link", name="New mailbox").click()
    page.fill("#id_name", "Support")
    page.fill("#id_from_address", "support@acme.example")
    page.fill("#id_from_name", "Acme Support")
    page.fill("#id_smtp_host", "127.0.0.1")
    page.fill("#id_smtp_port", str(smtp.port))
    page.select_option("#id_smtp_security", "starttls")
    page.fill("#id_smtp_username", SMTP_USER)
    page.fill("#id_smtp_password", SMTP_PASSWORD)
    page.check("#id_receive_enabled")
    page.fill("#id_imap_host", "127.0.0.1")
    page.fill("#id_imap_port", str(imap_server.port))
    page.select_option("#id_imap_security", "starttls")
    page.fill("#id_imap_username", imap_server.user)
    page.fill("#id_imap_password", imap_server.password)
    # The OAuth settings show only when the mailbox logs in with OAuth.
    expect(page.locator("#id_oauth_client_id")).to_be_hidden()
    page.select_option("#id_login_with", "microsoft")
    expect(page.locator("#id_oauth_tenant")).to_be_visible()
    expect(page.locator("#id_smtp_password")).to_be_hidden()
    page.select_option("#id_login_with", "password")
    page.get_by_text("DKIM signing").click()  # a folded section: opened to use it
    page.select_option("#id_dkim_generate", "ed25519")
    page.locator("form.mailbox-form button[type=submit]").click()

    expect(page.get_by_text("Mailbox Support saved.")).to_be_visible()
    expect(page.get_by_test_id("dkim-name")).to_have_value("herald._domainkey.acme.example")
    expect(page.get_by_test_id("dkim-txt")).to_have_value(
        Mailbox.objects.get(name="Support").dkim_dns_record
    )
    assert page.get_by_test_id("dkim-txt").input_value().startswith("v=DKIM1; k=ed25519; p=")
    # The passwords are not shown back: the fields say a value is set.
    expect(page.locator("#id_smtp_password")).to_have_attribute("placeholder", "•••• (set)")
    expect(page.locator("#id_smtp_password")).to_have_value("")

    page.get_by_role("button", name="Test connection").click()
    result = page.get_by_test_id("connection-test")
    expect(result.locator("[data-protocol=SMTP]")).to_have_attribute("data-state", "ok")
    expect(result.locator("[data-protocol=IMAP]")).to_have_attribute("data-state", "ok")
    expect(result.locator("[data-protocol=IMAP]")).to_contain_text("folder INBOX has 1 messages")

    # A wrong IMAP password: red, in Dovecot's own words.
    page.fill("#id_imap_password", "guess")
    page.locator("form.mailbox-form button[type=submit]").click()
    expect(page.get_by_text("Mailbox Support saved.")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    imap = page.get_by_test_id("connection-test").locator("[data-protocol=IMAP]")
    expect(imap).to_have_attribute("data-state", "failed")
    expect(imap).to_contain_text("Authentication failed")
    expect(
        page.get_by_test_id("connection-test").locator("[data-protocol=SMTP]")
    ).to_have_attribute("data-state", "ok")

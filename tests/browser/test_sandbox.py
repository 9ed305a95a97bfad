"""The sandbox mailbox in Chromium: a message received over SMTP, opened and read by an agent."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from herald.mailboxes.sandbox import SandboxServer


@pytest.fixture
def sandbox_smtp():
    server = SandboxServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def _statement() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Energy <billing@acme.example>"
    message["To"] = "Jeanne Dupont <jeanne@example.org>"
    message["Subject"] = "Your November statement"
    message.set_content("Dear Jeanne,\nyour statement is attached.\n")
    message.add_alternative(
        "<html><body><h1 id='greeting'>Dear Jeanne</h1>"
        "<p>Your statement is <strong>attached</strong>.</p></body></html>",
        subtype="html",
    )
    message.add_attachment(
        b"%PDF-1.4 not really a PDF\n" * 40,
        maintype="application",
        subtype="pdf",
        filename="statement-2026-11.pdf",
    )
    return message


def test_an_agent_reads_a_sandbox_message_rendered_as_text_html_and_attachment(
    sandbox_smtp, alice, login, live_server
):
    with smtplib.SMTP("127.0.0.1", sandbox_smtp.port, timeout=20) as smtp:
        refused = smtp.send_message(_statement())
    assert refused == {}

    page = login(alice)
    page.locator("nav.sidebar").get_by_role("link", name="Sandbox mailbox").click()
    listing = page.get_by_test_id("sandbox-messages")
    assert "jeanne@example.org" in listing.inner_text()
    listing.get_by_role("link", name="Your November statement").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Your November statement"
    html = page.frame_locator("iframe.message-html")
    assert html.locator("#greeting").inner_text() == "Dear Jeanne"
    assert html.locator("strong").inner_text() == "attached"
    assert "your statement is attached." in page.get_by_test_id("text-part").inner_text()
    assert "statement-2026-11.pdf (application/pdf" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Download .eml").get_attribute("href").endswith("/raw/")

"""The sandbox mailbox: what its SMTP server keeps and how the pages show it."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

import pytest

from herald.audit.models import AuditEvent
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import Mailbox, SandboxMessage
from herald.mailboxes.sandbox import SandboxServer, store_message


def _message(subject: str, to: str = "jeanne@example.org", html: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "billing@acme.example"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Plain words.\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


@pytest.mark.django_db
def test_the_sandbox_mailbox_is_created_once_and_audited_as_the_first_start():
    first = ensure_sandbox_mailbox()
    again = ensure_sandbox_mailbox()
    assert first == again
    assert Mailbox.objects.get().name == "Sandbox"
    event = AuditEvent.objects.get(action="mailbox.create")
    assert event.actor_label == "first start"


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_smtp_server_keeps_every_message_with_its_envelope():
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
            smtp.sendmail(
                "bounce@acme.example",
                ["jeanne@example.org", "audit@acme.example"],
                _message("Hello Jeanne"),
            )
    finally:
        server.stop()
    kept = SandboxMessage.objects.get()
    assert kept.subject == "Hello Jeanne"
    assert kept.mail_from == "bounce@acme.example"
    assert kept.rcpt_tos == ["jeanne@example.org", "audit@acme.example"]
    assert b"Plain words." in bytes(kept.raw)


@pytest.mark.django_db
def test_a_message_with_broken_headers_is_kept_raw_rather_than_lost(client_for, alice):
    raw = b"Subject: =?utf-8?q?broken\r\nFrom: <<<\r\n\r\nbody survives\r\n"
    kept = store_message("x@example.org", ["y@example.org"], raw)
    assert bytes(SandboxMessage.objects.get(pk=kept.pk).raw) == raw
    response = client_for(alice).get(f"/mailboxes/sandbox/{kept.pk}/")
    assert response.status_code == 200
    assert "body survives" in response.content.decode()


@pytest.mark.django_db
def test_the_sandbox_page_lists_and_searches_by_recipient_or_subject(client_for, alice):
    store_message("a@acme.example", ["jeanne@example.org"], _message("Winter offer"))
    store_message("a@acme.example", ["paul@example.org"], _message("Survey", to="paul@example.org"))
    client = client_for(alice)
    page = client.get("/mailboxes/sandbox/").content.decode()
    assert page.index("Survey") < page.index("Winter offer")  # newest first
    found = client.get("/mailboxes/sandbox/", {"q": "jeanne"}).content.decode()
    assert "Winter offer" in found
    assert "Survey" not in found
    found = client.get("/mailboxes/sandbox/", {"q": "survey"}).content.decode()
    assert "Survey" in found
    assert "Winter offer" not in found


@pytest.mark.django_db
def test_the_html_part_is_served_sandboxed_so_its_scripts_cannot_run(client_for, alice):
    html = "<p>Hi</p><script>alert(document.cookie)</script>"
    kept = store_message("a@acme.example", ["j@example.org"], _message("Hi", html=html))
    response = client_for(alice).get(f"/mailboxes/sandbox/{kept.pk}/html/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    policy = response["Content-Security-Policy"]
    assert re.match(r"sandbox;", policy)
    assert "script-src" not in policy  # default-src 'none' forbids scripts
    assert "default-src 'none'" in policy


@pytest.mark.django_db
def test_the_raw_message_downloads_as_an_eml_file(client_for, alice):
    kept = store_message("a@acme.example", ["j@example.org"], _message("Hi"))
    response = client_for(alice).get(f"/mailboxes/sandbox/{kept.pk}/raw/")
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="sandbox-{kept.pk}.eml"'
    assert response.content == bytes(kept.raw)


@pytest.mark.django_db
def test_outsiders_do_not_read_the_sandbox(client_for):
    kept = store_message("a@acme.example", ["j@example.org"], _message("Hi"))
    response = client_for(None).get(f"/mailboxes/sandbox/{kept.pk}/raw/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_the_sandbox_mailbox_follows_the_port_herald_run_listens_on():

    first = ensure_sandbox_mailbox("127.0.0.1", 2525)
    moved = ensure_sandbox_mailbox("127.0.0.1", 40125)
    assert moved.pk == first.pk
    assert (moved.smtp_host, moved.smtp_port) == ("127.0.0.1", 40125)
    # A caller that only wants the mailbox does not move it back to the configured default.
    assert ensure_sandbox_mailbox().smtp_port == 40125
    change = AuditEvent.objects.get(action="mailbox.change")
    assert change.changes == {"smtp_port": [2525, 40125]}

"""The mailbox's "Test connection" against real servers: aiosmtpd (STARTTLS, AUTH) and Dovecot."""

from __future__ import annotations

import socket

import pytest

from herald.audit.actors import Actor
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.connection import check_imap, check_mailbox, check_smtp, imap_utf7
from herald.mailboxes.models import Mailbox
from tests.dovecot import DovecotServer
from tests.mailboxes.servers import SMTP_PASSWORD, SMTP_USER, TlsSmtpServer, trust

ACTOR = Actor.system("test")


def _mailbox(
    smtp: TlsSmtpServer | None, imap: DovecotServer | None, **overrides: object
) -> Mailbox:
    fields: dict[str, object] = {
        "name": "Support",
        "from_address": "support@acme.example",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port if smtp else 1,
        "smtp_security": "starttls",
        "smtp_username": SMTP_USER,
    }
    secrets = {"smtp_password": overrides.pop("smtp_password", SMTP_PASSWORD)}
    if imap is not None:
        fields.update(
            imap_host="127.0.0.1",
            imap_port=imap.port,
            imap_security="starttls",
            imap_username=imap.user,
            receive_enabled=True,
        )
        secrets["imap_password"] = overrides.pop("imap_password", imap.password)  # type: ignore[assignment]
    fields.update(overrides)
    return do_save_mailbox(ACTOR, None, fields, secrets=secrets)


@pytest.mark.django_db
def test_smtp_and_imap_are_green_when_both_servers_accept(smtp_server, dovecot, monkeypatch):
    trust(monkeypatch, smtp_server.cert_pem, dovecot.cert_pem)
    smtp, imap = check_mailbox(_mailbox(smtp_server, dovecot))
    assert (smtp.state, imap.state) == ("ok", "ok"), (smtp, imap)
    assert "login accepted" in smtp.detail
    assert "folder INBOX has" in imap.detail


@pytest.mark.django_db
def test_a_wrong_smtp_password_is_red_in_the_servers_words(smtp_server, monkeypatch):
    trust(monkeypatch, smtp_server.cert_pem)
    result = check_smtp(_mailbox(smtp_server, None, smtp_password="guess"))
    assert result.state == "failed"
    assert "535" in result.detail
    assert "Authentication credentials invalid" in result.detail


@pytest.mark.django_db
def test_an_untrusted_certificate_is_red_and_says_so(smtp_server):
    result = check_smtp(_mailbox(smtp_server, None))
    assert result.state == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail


@pytest.mark.django_db
def test_nobody_listening_is_red_and_names_the_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check_smtp(_mailbox(None, None, smtp_port=port))
    assert result.state == "failed"
    assert f"cannot connect to 127.0.0.1:{port}" in result.detail


@pytest.mark.django_db
def test_a_wrong_imap_password_is_red_in_the_servers_words(dovecot, monkeypatch):
    trust(monkeypatch, dovecot.cert_pem)
    result = check_imap(_mailbox(None, dovecot, imap_password="guess"))
    assert result.state == "failed"
    assert "LOGIN" in result.detail
    assert "Authentication failed" in result.detail


@pytest.mark.django_db
def test_a_missing_imap_folder_is_red_in_the_servers_words(dovecot, monkeypatch):
    trust(monkeypatch, dovecot.cert_pem)
    result = check_imap(_mailbox(None, dovecot, imap_folder="Replies 2024"))
    assert result.state == "failed"
    assert "SELECT Replies 2024" in result.detail
    assert "doesn't exist" in result.detail


@pytest.mark.django_db
def test_imap_over_tls_from_the_first_byte_selects_a_folder_with_spaces_and_accents(
    dovecot, monkeypatch
):
    trust(monkeypatch, dovecot.cert_pem)
    dovecot.append(b"Subject: r\r\n\r\nx\r\n", folder=imap_utf7("Réponses clients"))
    mailbox = _mailbox(
        None,
        dovecot,
        imap_security="tls",
        imap_port=dovecot.tls_port,
        imap_folder="Réponses clients",
    )
    result = check_imap(mailbox)
    assert result.state == "ok", result
    assert "has 1 messages" in result.detail


@pytest.mark.django_db
def test_imap_not_configured_is_skipped_unless_receiving_is_on():
    mailbox = _mailbox(None, None)
    assert check_imap(mailbox).state == "skipped"
    mailbox.receive_enabled = True
    result = check_imap(mailbox)
    assert result.state == "failed"
    assert "IMAP is not configured" in result.detail


@pytest.mark.django_db
def test_a_password_the_key_cannot_read_is_red_and_says_what_to_re_enter(smtp_server, settings):
    mailbox = _mailbox(smtp_server, None)
    settings.ENCRYPTION_KEY = "another key"
    result = check_smtp(Mailbox.objects.get(pk=mailbox.pk))
    assert result.state == "failed"
    assert "the SMTP password of mailbox 'Support' cannot be decrypted" in result.detail


def test_folder_names_are_sent_in_modified_utf7():
    assert imap_utf7("INBOX") == "INBOX"
    assert imap_utf7("A&B") == "A&-B"
    assert imap_utf7("Réponses") == "R&AOk-ponses"
    assert imap_utf7("台北") == "&U,BTFw-"

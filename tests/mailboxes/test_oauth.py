"""Mailboxes that log in with OAuth 2.0, against real local servers: an Authlib authorization
server (code flow with PKCE, rotated refresh tokens, revocation, introspection), an SMTP server
(aiosmtpd) that accepts SASL XOAUTH2 and OAUTHBEARER only with a live token, and Dovecot checking
tokens with the server's introspection endpoint. Signing in goes through Herald's own pages."""

from __future__ import annotations

import base64
import datetime as dt
import email
import json
import os
import tempfile
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from herald.audit.actors import Actor
from herald.dialer.smtp import SmtpTransport
from herald.dialer.transport import Envelope, Status
from herald.inbound import ingest
from herald.mailboxes import connection, oauth
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from herald.mailboxes.smtp import send_message
from tests.dialer.smtpd import SmtpServer
from tests.dovecot import DovecotServer
from tests.mailboxes.oauth_server import CLIENT_ID, CLIENT_SECRET, USER, OAuthServer

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
MESSAGE = b"From: herald@example.org\r\nTo: ann@example.org\r\nSubject: Hi\r\n\r\nHello.\r\n"


@pytest.fixture
def provider(settings) -> Iterator[OAuthServer]:
    server = OAuthServer(settings.BASE_URL + "/mailboxes/oauth/callback/")
    yield server
    server.stop()


@pytest.fixture
def smtp(provider: OAuthServer) -> Iterator[SmtpServer]:
    server = SmtpServer(bearer=lambda user, token: user == USER and provider.active(token))
    yield server
    server.stop()


@pytest.fixture
def mailbox(provider: OAuthServer, smtp: SmtpServer) -> Mailbox:
    return do_save_mailbox(
        ACTOR,
        None,
        {
            "name": "Support",
            "from_address": "herald@example.org",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "smtp_username": USER,
            "login_with": "oauth",
            "oauth_client_id": CLIENT_ID,
            "oauth_issuer": provider.issuer,
            "oauth_scopes": "mail offline_access",
        },
        secrets={"oauth_client_secret": CLIENT_SECRET},
    )


def sign_in(client: Any, mailbox: Mailbox, provider: OAuthServer, *, allow: bool = True) -> str:
    """Herald's "Sign in" button, the provider's "Allow", and the way back: the page's text."""
    started = client.get(f"/mailboxes/{mailbox.pk}/oauth/sign-in/")
    assert started.status_code == 302
    back = urlsplit(provider.approve(started["Location"], allow=allow))
    assert back.path == "/mailboxes/oauth/callback/"
    landed = client.get(f"{back.path}?{back.query}", follow=True)
    return landed.content.decode()


def test_signing_in_uses_pkce_and_keeps_the_tokens_encrypted(client_for, mike, mailbox, provider):
    client = client_for(mike)
    started = client.get(f"/mailboxes/{mailbox.pk}/oauth/sign-in/")
    query = parse_qs(urlsplit(started["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    back = urlsplit(provider.approve(started["Location"]))
    page = client.get(f"{back.path}?{back.query}", follow=True).content.decode()
    assert "Signed in as herald." in page
    (exchange,) = provider.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert len(exchange["code_verifier"]) >= 43  # the PKCE verifier only Herald knew
    mailbox.refresh_from_db()
    (issued,) = provider.tokens
    assert issued.refresh_token not in mailbox.oauth_refresh_token_encrypted
    assert mailbox.secret("oauth_refresh_token") == issued.refresh_token
    # The same answer again (a reload, a replay): the sign-in was used up.
    again = client.get(f"{back.path}?{back.query}", follow=True).content.decode()
    assert "unknown or was already used" in again


def test_mail_goes_out_with_xoauth2_through_both_senders(client_for, mike, mailbox, provider, smtp):
    sign_in(client_for(mike), mailbox, provider)
    mailbox.refresh_from_db()
    send_message(mailbox, MESSAGE, mailbox.from_address, ["ann@example.org"])  # answers, tests
    with SmtpTransport(connection.smtp_config(mailbox)) as transport:  # the dialer's client
        (outcome,) = transport.send([Envelope(mailbox.from_address, ("bo@example.org",), MESSAGE)])
    assert outcome.status == Status.SENT
    assert [r.rcpt_tos for r in smtp.received] == [["ann@example.org"], ["bo@example.org"]]
    assert smtp.handler.logins == [("XOAUTH2", USER), ("XOAUTH2", USER)]  # type: ignore[attr-defined]
    (smtp_check, _imap) = connection.check_mailbox(mailbox)
    assert smtp_check.ok
    assert "OAuth login as herald accepted" in smtp_check.detail


def test_a_token_about_to_expire_is_refreshed_once_for_every_worker(
    client_for, mike, mailbox, provider, smtp
):
    sign_in(client_for(mike), mailbox, provider)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        oauth_expires_at=timezone.now() + dt.timedelta(minutes=2)
    )
    first_worker, second_worker = (
        Mailbox.objects.get(pk=mailbox.pk),
        Mailbox.objects.get(pk=mailbox.pk),
    )
    old_refresh = first_worker.secret("oauth_refresh_token")
    token = oauth.access_token(first_worker)
    assert oauth.access_token(second_worker) == token  # read the other's, not refreshed again
    refreshes = [r for r in provider.token_requests if r["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert stored.oauth_expires_at > timezone.now() + dt.timedelta(minutes=50)
    assert stored.secret("oauth_refresh_token") != old_refresh  # rotated, kept at once
    assert provider.active(token)
    send_message(stored, MESSAGE, stored.from_address, ["ann@example.org"])
    assert len(smtp.received) == 1


def test_revoked_consent_is_said_in_plain_words(client_for, mike, mailbox, provider, smtp):
    sign_in(client_for(mike), mailbox, provider)
    provider.revoke_all()  # the mailbox's owner revoked Herald's access at the provider
    Mailbox.objects.filter(pk=mailbox.pk).update(oauth_expires_at=timezone.now())
    mailbox.refresh_from_db()
    smtp_check, _imap = connection.check_mailbox(mailbox)
    assert not smtp_check.ok
    assert "no longer valid" in smtp_check.detail
    assert "sign in again" in smtp_check.detail
    page = client_for(mike).get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert 'data-testid="oauth-error"' in page
    assert smtp.received == []


def test_a_refused_token_is_reported_with_the_servers_reasons(
    client_for, mike, mailbox, provider, smtp
):
    sign_in(client_for(mike), mailbox, provider)
    provider.revoke_all()  # the provider revoked it, but Herald's copy has not expired yet
    mailbox.refresh_from_db()
    smtp_check, _imap = connection.check_mailbox(mailbox)
    assert not smtp_check.ok
    assert "refused the OAuth token for herald" in smtp_check.detail
    assert "status=401" in smtp_check.detail


def test_consent_refused_at_the_provider(client_for, mike, mailbox, provider):
    page = sign_in(client_for(mike), mailbox, provider, allow=False)
    assert "Consent was refused at the provider" in page
    mailbox.refresh_from_db()
    assert not mailbox.oauth_refresh_token_encrypted


def test_signing_out_revokes_at_the_provider(client_for, mike, mailbox, provider):
    client = client_for(mike)
    sign_in(client, mailbox, provider)
    (issued,) = provider.tokens
    client.post(f"/mailboxes/{mailbox.pk}/oauth/sign-out/")
    assert issued.revoked
    mailbox.refresh_from_db()
    assert not mailbox.oauth_refresh_token_encrypted


@pytest.fixture
def dovecot_oauth(provider: OAuthServer) -> Iterator[DovecotServer]:
    """Dovecot checking XOAUTH2 and OAUTHBEARER tokens with the provider's introspection."""
    folder = Path(tempfile.mkdtemp(prefix="herald-oauth2-"))
    folder.chmod(0o755)
    settings_file = folder / "oauth2.conf.ext"
    settings_file.write_text(
        "introspection_mode = post\n"
        f"introspection_url = {provider.introspection_url()}\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )
    os.chmod(settings_file, 0o644)
    server = DovecotServer(
        "auth_mechanisms = plain login xoauth2 oauthbearer\n"
        "passdb {\n"
        "  driver = oauth2\n"
        "  mechanisms = xoauth2 oauthbearer\n"
        f"  args = {settings_file}\n"
        "}\n"
    )
    yield server
    server.stop()


def test_imap_logs_in_with_the_token_at_dovecot(client_for, mike, mailbox, provider, dovecot_oauth):
    mailbox.imap_host, mailbox.imap_port = "127.0.0.1", dovecot_oauth.port
    mailbox.imap_security, mailbox.receive_enabled = "none", True
    mailbox.save()
    sign_in(client_for(mike), mailbox, provider)
    mailbox.refresh_from_db()
    _smtp, imap_check = connection.check_mailbox(mailbox)
    assert imap_check.ok, imap_check.detail
    box = ingest.connect(mailbox)  # what the inbound worker does
    try:
        assert box.folder.exists("INBOX")
    finally:
        box.logout()
    provider.revoke_all()
    _smtp, imap_check = connection.check_mailbox(mailbox)
    assert not imap_check.ok


def test_microsoft_and_google_sign_ins_ask_for_what_smtp_and_imap_need(db):
    microsoft = Mailbox(
        name="M365", login_with="microsoft", oauth_client_id="app-1", oauth_tenant="contoso.com"
    )
    url = oauth.start(microsoft, "https://herald.example.com/mailboxes/oauth/callback/").url
    assert url.startswith("https://login.microsoftonline.com/contoso.com/oauth2/v2.0/authorize?")
    scopes = parse_qs(urlsplit(url).query)["scope"][0].split()
    assert "https://outlook.office.com/SMTP.Send" in scopes
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in scopes
    assert "offline_access" in scopes
    google = Mailbox(name="Google", login_with="google", oauth_client_id="app-2")
    query = parse_qs(urlsplit(oauth.start(google, "https://h.example/cb/").url).query)
    assert "https://mail.google.com/" in query["scope"][0].split()
    assert query["access_type"] == ["offline"]  # else Google gives no refresh token
    assert query["code_challenge_method"] == ["S256"]


def test_a_plain_http_issuer_elsewhere_than_this_machine_is_refused(db):
    other = Mailbox(
        name="X", login_with="oauth", oauth_client_id="c", oauth_issuer="http://idp.example"
    )
    with pytest.raises(oauth.SignInError):
        oauth.start(other, "https://h.example/cb/")


def test_the_message_sent_is_the_message_given(client_for, mike, mailbox, provider, smtp):
    sign_in(client_for(mike), mailbox, provider)
    mailbox.refresh_from_db()
    send_message(mailbox, MESSAGE, mailbox.from_address, ["ann@example.org"])
    received = email.message_from_bytes(smtp.received[0].content, policy=policy.default)
    assert received["Subject"] == "Hi"


def test_the_signed_in_account_is_read_from_the_id_token():
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    id_token = f"{part({'alg': 'RS256'})}.{part({'email': 'support@contoso.com'})}.signature"
    assert oauth._account({"id_token": id_token}) == "support@contoso.com"
    assert oauth._account({"id_token": "not a token"}) == ""


def test_a_server_offering_only_oauthbearer_gets_it(client_for, mike, mailbox, provider):
    bearer_only = SmtpServer(
        bearer=lambda user, token: user == USER and provider.active(token),
        auth_exclude=("XOAUTH2",),
    )
    try:
        sign_in(client_for(mike), mailbox, provider)
        mailbox.refresh_from_db()
        mailbox.smtp_port = bearer_only.port
        send_message(mailbox, MESSAGE, mailbox.from_address, ["ann@example.org"])
        smtp_check, _imap = connection.check_mailbox(mailbox)
        assert smtp_check.ok, smtp_check.detail
        logins = bearer_only.handler.logins  # type: ignore[attr-defined]
        assert logins == [("OAUTHBEARER", USER), ("OAUTHBEARER", USER)]
    finally:
        bearer_only.stop()


@pytest.mark.parametrize(
    ("error", "description", "words"),
    [
        ("invalid_scope", "", "lacks a permission"),
        (
            "invalid_client",
            "AADSTS7000222: The provided client secret keys are expired.",
            "expired",
        ),
        ("invalid_client", "", "check the client id and secret"),
        ("invalid_grant", "AADSTS700082: The refresh token has expired", "unused for too long"),
        ("temporarily_unavailable", "try later", "The provider refused"),
    ],
)
def test_provider_errors_are_put_in_words_an_admin_can_act_on(error, description, words):
    said = oauth.explain(oauth.ProviderError(error, description))
    assert words in said
    assert error in said or description[:20] in said


def test_imap_falls_back_to_oauthbearer(client_for, mike, mailbox, provider, dovecot_oauth):
    """A server that offers OAUTHBEARER only (here Dovecot, its XOAUTH2 hidden from the client)."""
    import imaplib

    sign_in(client_for(mike), mailbox, provider)
    mailbox.refresh_from_db()
    client = imaplib.IMAP4("127.0.0.1", dovecot_oauth.port, timeout=10)
    try:
        client.capabilities = tuple(c for c in client.capabilities if c != "AUTH=XOAUTH2")
        used = connection.imap_oauth_login(client, USER, oauth.access_token(mailbox))
        assert used == "AUTHENTICATE OAUTHBEARER"
        assert client.state == "AUTH"
    finally:
        client.logout()

"""Signing a mailbox in at an OAuth 2.0 provider in Chromium: Herald's "Sign in" button, the
provider's own page (a real Authlib authorization server on loopback), "Allow", and back on the
mailbox's page signed in; then the token logs in to an SMTP server that checks it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from herald.audit.actors import Actor
from herald.mailboxes import connection
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from tests.dialer.smtpd import SmtpServer
from tests.mailboxes.oauth_server import CLIENT_ID, CLIENT_SECRET, USER, OAuthServer


@pytest.fixture
def provider(live_server, settings) -> Iterator[OAuthServer]:
    settings.BASE_URL = live_server.url  # the redirect URI Herald gives the provider
    server = OAuthServer(f"{live_server.url}/mailboxes/oauth/callback/")
    yield server
    server.stop()


def test_a_manager_signs_a_mailbox_in_at_the_provider(login, mike, provider) -> None:
    smtp = SmtpServer(bearer=lambda user, token: user == USER and provider.active(token))
    try:
        mailbox = do_save_mailbox(
            Actor.system("test"),
            None,
            {
                "name": "Support",
                "from_address": "support@example.org",
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
        page = login(mike)
        page.goto(f"{page.url}mailboxes/{mailbox.pk}/")
        page.get_by_test_id("oauth-sign-in").click()
        page.wait_for_url(f"{provider.issuer}/authorize?*")
        assert "Sign in to Herald?" in page.content()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"**/mailboxes/{mailbox.pk}/")
        assert "Signed in as herald" in page.get_by_test_id("oauth-account").inner_text()
        signed_in = Mailbox.objects.get(pk=mailbox.pk)
        with ThreadPoolExecutor(1) as other:  # Playwright holds this thread's event loop
            check, _imap = other.submit(connection.check_mailbox, signed_in).result()
        assert check.ok, check.detail
        assert smtp.handler.logins == [("XOAUTH2", USER)]  # type: ignore[attr-defined]
    finally:
        smtp.stop()

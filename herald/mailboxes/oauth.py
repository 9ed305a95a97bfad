"""OAuth 2.0 for mailboxes: signing in at Microsoft 365, Google Workspace or another provider,
and the access tokens SMTP and IMAP log in with (SASL XOAUTH2, or OAUTHBEARER, RFC 7628).

Signing in is the authorization-code flow with PKCE (RFC 7636), with the admin's own app
registration (client id, secret, Microsoft tenant): ``start`` gives the provider's address to
send the admin's browser to; the provider sends the browser back to ``callback`` with a code,
which is exchanged for tokens. The refresh token is kept encrypted like the passwords; so is the
access token, with its expiry, so that every worker on every machine uses the same token until
shortly before it expires (``REFRESH_BEFORE``), and the first worker to need a new one refreshes
it under a row lock while the others wait for it. A provider that rotates refresh tokens gets the
new one stored at once.

The OAuth client is Authlib's (``OAuth2Session`` over requests): the flow, PKCE and the token
requests are its work. Written here: which endpoints and scopes each provider needs, discovery
for other providers (RFC 8414 / OpenID Connect), the SASL strings, and the provider's errors put
in words an admin can act on.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from herald.mailboxes.models import LoginWith, Mailbox
from herald.mailboxes.secrets import SecretUnreadableError, decrypt, encrypt

logger = logging.getLogger(__name__)

TIMEOUT = 15  # seconds for any request to the provider
REFRESH_BEFORE = dt.timedelta(minutes=5)  # a token this close to its end is refreshed first
DISCOVERY_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


class SignInError(Exception):
    """Signing in or refreshing failed; the message says what the admin should do."""


class ProviderError(Exception):
    """An error the provider sent the browser back with (``?error=access_denied``)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.error = error[:100]
        self.description = description[:500]


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    revoke: str = ""
    scopes: str = ""
    extra: tuple[tuple[str, str], ...] = ()  # more parameters of the authorization request


def endpoints(mailbox: Mailbox) -> Endpoints:
    """Where the mailbox's provider signs in and gives tokens, and the scopes SMTP and IMAP need
    (with ``openid email``, so that the ID token says which account signed in)."""
    if mailbox.login_with == LoginWith.MICROSOFT:
        tenant = mailbox.oauth_tenant.strip() or "organizations"
        base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
        return Endpoints(
            authorize=f"{base}/authorize",
            token=f"{base}/token",
            scopes=(
                "openid email offline_access https://outlook.office.com/SMTP.Send "
                "https://outlook.office.com/IMAP.AccessAsUser.All"
            ),
        )
    if mailbox.login_with == LoginWith.GOOGLE:
        return Endpoints(
            authorize="https://accounts.google.com/o/oauth2/v2/auth",
            token="https://oauth2.googleapis.com/token",  # noqa: S106 - an address
            revoke="https://oauth2.googleapis.com/revoke",
            scopes="openid email https://mail.google.com/",
            # Google gives a refresh token only when asked for offline access, and again only
            # with consent asked again.
            extra=(("access_type", "offline"), ("prompt", "consent")),
        )
    if mailbox.login_with == LoginWith.OAUTH:
        return discover(mailbox.oauth_issuer)
    raise SignInError(_("This mailbox logs in with a password, not OAuth."))


def discover(issuer: str) -> Endpoints:
    """The endpoints a provider publishes under its issuer URL (OpenID Connect discovery, else
    RFC 8414 authorization server metadata)."""
    issuer = issuer.strip().rstrip("/")
    parts = urlsplit(issuer)
    loopback = parts.hostname in {"127.0.0.1", "::1", "localhost"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        # Plain HTTP would show the client secret and the tokens to the network.
        raise SignInError(_("Enter the provider's issuer URL, e.g. https://login.example.com."))
    for path in DISCOVERY_PATHS:
        try:
            answer = requests.get(issuer + path, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise SignInError(
                _("The provider at %(issuer)s cannot be reached: %(error)s")
                % {"issuer": issuer, "error": exc}
            ) from None
        if answer.status_code == 200:
            try:
                meta = answer.json()
                return Endpoints(
                    authorize=str(meta["authorization_endpoint"]),
                    token=str(meta["token_endpoint"]),
                    revoke=str(meta.get("revocation_endpoint") or ""),
                )
            except (ValueError, KeyError, TypeError):
                break
    raise SignInError(
        _("%(issuer)s publishes no OAuth discovery document (%(paths)s).")
        % {"issuer": issuer, "paths": ", ".join(DISCOVERY_PATHS)}
    )


def _session(mailbox: Mailbox, redirect_uri: str = "") -> OAuth2Session:
    found = endpoints(mailbox)
    return OAuth2Session(
        client_id=mailbox.oauth_client_id,
        client_secret=mailbox.secret("oauth_client_secret") or None,
        scope=mailbox.oauth_scopes.strip() or found.scopes or None,
        redirect_uri=redirect_uri or None,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
    )


@dataclass(frozen=True)
class SignIn:
    """A sign-in under way: the address to send the browser to, and what the callback needs."""

    url: str
    state: str
    code_verifier: str


def start(mailbox: Mailbox, redirect_uri: str) -> SignIn:
    """Begins signing in: the provider's authorization address with a fresh PKCE verifier."""
    from authlib.common.security import generate_token

    if not mailbox.oauth_client_id:
        raise SignInError(_("Enter the application (client) id of your app registration first."))
    found = endpoints(mailbox)
    verifier = generate_token(64)
    with _session(mailbox, redirect_uri) as session:
        url, state = session.create_authorization_url(
            found.authorize, code_verifier=verifier, **dict(found.extra)
        )
    return SignIn(url, state, verifier)


def callback(mailbox: Mailbox, redirect_uri: str, url: str, verifier: str) -> Mailbox:
    """Exchanges the code the provider sent the browser back with for tokens, and keeps them."""
    found = endpoints(mailbox)
    try:
        with _session(mailbox, redirect_uri) as session:
            token = session.fetch_token(
                found.token, authorization_response=url, code_verifier=verifier
            )
    except (OAuthError, OAuth2Error, requests.RequestException, ValueError) as exc:
        raise SignInError(explain(exc)) from None
    if not token.get("refresh_token"):
        raise SignInError(
            _(
                "The provider gave no refresh token: add the offline_access scope (Microsoft) "
                "or allow offline access, then sign in again."
            )
        )
    with transaction.atomic():
        row = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        _store(row, token)
        row.oauth_account = _account(token) or row.smtp_username or row.from_address
        row.oauth_signed_in_at = timezone.now()
        row.save(
            update_fields=[
                "oauth_refresh_token_encrypted",
                "oauth_access_token_encrypted",
                "oauth_expires_at",
                "oauth_account",
                "oauth_signed_in_at",
                "oauth_error",
            ]
        )
    return row


def _store(row: Mailbox, token: dict[str, Any]) -> None:
    row.oauth_access_token_encrypted = encrypt(str(token["access_token"]))
    if token.get("refresh_token"):  # rotated: the old one may already be void
        row.oauth_refresh_token_encrypted = encrypt(str(token["refresh_token"]))
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
        row.oauth_expires_at = timezone.now() + dt.timedelta(seconds=int(expires_in))
    elif token.get("expires_at"):
        row.oauth_expires_at = dt.datetime.fromtimestamp(int(token["expires_at"]), dt.UTC)
    else:
        row.oauth_expires_at = timezone.now() + dt.timedelta(hours=1)
    row.oauth_error = ""


def _account(token: dict[str, Any]) -> str:
    """The signed-in account's address, from the ID token when the provider sent one (its
    claims are only read for display and as the default login name, not trusted for more)."""
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return ""
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return ""
    for name in ("email", "preferred_username", "upn"):
        value = claims.get(name)
        if isinstance(value, str) and "@" in value:
            return value[:320]
    return ""


def access_token(mailbox: Mailbox, now: dt.datetime | None = None) -> str:
    """A valid access token for the mailbox, refreshed first when it is about to expire;
    raises SignInError saying what to do when it cannot be had."""
    now = now or timezone.now()
    if _fresh(mailbox, now):
        return decrypt(mailbox.oauth_access_token_encrypted, what="the OAuth access token")
    try:
        with transaction.atomic():
            row = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
            if not _fresh(row, now):  # another worker may have refreshed it meanwhile
                _refresh(row)
    except SignInError as exc:  # kept for the mailbox's page, outside the rolled-back block
        Mailbox.objects.filter(pk=mailbox.pk).update(oauth_error=str(exc)[:1000])
        raise
    for name in (
        "oauth_access_token_encrypted",
        "oauth_expires_at",
        "oauth_refresh_token_encrypted",
    ):
        setattr(mailbox, name, getattr(row, name))
    return decrypt(row.oauth_access_token_encrypted, what="the OAuth access token")


def _fresh(mailbox: Mailbox, now: dt.datetime) -> bool:
    return bool(
        mailbox.oauth_access_token_encrypted
        and mailbox.oauth_expires_at
        and mailbox.oauth_expires_at - REFRESH_BEFORE > now
    )


def _refresh(row: Mailbox) -> None:
    if not row.oauth_refresh_token_encrypted:
        raise SignInError(_("Nobody has signed in for this mailbox yet: sign in first."))
    try:
        refresh_token = row.secret("oauth_refresh_token")
        with _session(row) as session:
            token = session.refresh_token(endpoints(row).token, refresh_token=refresh_token)
    except SecretUnreadableError as exc:
        raise SignInError(str(exc)) from None
    except (OAuthError, OAuth2Error, requests.RequestException, ValueError) as exc:
        words = explain(exc)
        logger.warning("OAuth refresh failed", extra={"mailbox": row.pk, "error": words})
        raise SignInError(words) from None
    _store(row, token)
    row.save(
        update_fields=[
            "oauth_refresh_token_encrypted",
            "oauth_access_token_encrypted",
            "oauth_expires_at",
            "oauth_error",
        ]
    )


# What a provider's error code means for the admin (RFC 6749 5.2, and Microsoft's AADSTS codes).
_ADVICE: dict[str, Any] = {  # translated when shown
    "invalid_grant": gettext_lazy(
        "The sign-in is no longer valid (consent revoked, password changed, or unused too long): "
        "sign in again."
    ),
    "invalid_client": gettext_lazy(
        "The provider refused the application's credentials: check the client id and secret "
        "(a client secret expires; create a new one in the app registration)."
    ),
    "unauthorized_client": gettext_lazy(
        "The app registration may not use this flow: allow the authorization-code flow for it."
    ),
    "invalid_scope": gettext_lazy(
        "The app registration lacks a permission Herald asks for: add SMTP.Send and "
        "IMAP.AccessAsUser.All (Microsoft) or the mail scope (Google), then sign in again."
    ),
    "access_denied": gettext_lazy("Consent was refused at the provider: sign in again and accept."),
    "AADSTS7000215": gettext_lazy("The client secret is wrong: copy its value (not its id) again."),
    "AADSTS7000222": gettext_lazy("The client secret has expired: create a new one and enter it."),
    "AADSTS65001": gettext_lazy(
        "Consent is missing: an administrator must grant it, then sign in again."
    ),
    "AADSTS700082": gettext_lazy(
        "The sign-in expired after being unused for too long: sign in again."
    ),
}


def explain(exc: Exception) -> str:
    """The provider's error in words an admin can act on, with its own words after."""
    if isinstance(exc, requests.RequestException):
        return _("The provider cannot be reached: %(error)s") % {"error": exc}
    code = str(getattr(exc, "error", "") or "")
    description = str(getattr(exc, "description", "") or "")
    for key, advice in _ADVICE.items():
        if key.startswith("AADSTS") and key in description:
            return f"{advice} ({description[:300]})"
    advice = _ADVICE.get(code)
    detail = f"{code}: {description}".strip(": ")[:300] or str(exc)[:300]
    return (
        f"{advice} ({detail})"
        if advice
        else _("The provider refused: %(detail)s") % {"detail": detail}
    )


def revoke(mailbox: Mailbox) -> None:
    """Forgets the sign-in (and asks the provider to revoke the refresh token when it can)."""
    found = endpoints(mailbox) if mailbox.uses_oauth else None
    if found is not None and found.revoke and mailbox.oauth_refresh_token_encrypted:
        try:
            with _session(mailbox) as session:
                session.revoke_token(
                    found.revoke,
                    token=mailbox.secret("oauth_refresh_token"),
                    token_type_hint="refresh_token",  # noqa: S106 - a kind of token
                )
        except (OAuthError, OAuth2Error, requests.RequestException, SecretUnreadableError):
            logger.warning("revoking at the provider failed", extra={"mailbox": mailbox.pk})
    Mailbox.objects.filter(pk=mailbox.pk).update(
        oauth_refresh_token_encrypted="",
        oauth_access_token_encrypted="",
        oauth_expires_at=None,
        oauth_account="",
        oauth_signed_in_at=None,
    )

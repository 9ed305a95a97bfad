"""A mailbox's "Test connection": SMTP (connect, EHLO, TLS, AUTH) and IMAP (connect, TLS, LOGIN,
SELECT the folder), each with a short timeout, each reported green or red in the server's words.

This is the one web action allowed to wait on the network (DESIGN.md): a person clicked the
button and waits for the answer, at most ``TIMEOUT_SECONDS`` per protocol. SMTP goes through
the dialer's own client (``herald.dialer.smtp.check_connection``), so a green test means the
dialer can connect the same way; IMAP through the standard library's ``imaplib``. A mailbox that
logs in with OAuth 2.0 gets an access token first (herald.mailboxes.oauth: a sign-in that no
longer works fails here, in words) and logs in with SASL XOAUTH2 or OAUTHBEARER.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import ssl
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _

from herald.dialer.smtp import SmtpConfig, check_connection
from herald.dialer.transport import SendError
from herald.mailboxes import oauth, sasl
from herald.mailboxes.models import Mailbox, SmtpSecurity
from herald.mailboxes.secrets import SecretUnreadableError

TIMEOUT_SECONDS = 10.0  # per protocol: long enough for a slow provider, short for a person

State = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """One protocol's outcome: ``ok`` (green), ``failed`` (red, ``detail`` in the server's
    words) or ``skipped`` (not configured)."""

    protocol: str
    state: State
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def as_dict(self) -> dict[str, str]:
        return {"protocol": self.protocol, "state": self.state, "detail": self.detail}


def tls_context() -> ssl.SSLContext | None:
    """The TLS context both checks use: ``None`` means the system's trusted certificates (the
    tests replace this to trust their own throwaway certificate authority)."""
    return None


class Bearer:
    """A mailbox's OAuth access token for SMTP logins made later, from the SMTP pool's own
    thread (which must not touch the database): ``renew()`` in the owner's thread keeps it
    fresh (herald.dialer.sender does before every batch); a login reads it."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.value = ""
        self.problem = ""
        self.renew()

    def renew(self) -> None:
        """Refreshes the token when it is about to expire. When that fails, the logins that
        follow fail with the reason (the token in hand may still work until it expires)."""
        try:
            self.value = oauth.access_token(self.mailbox)
            self.problem = ""
        except oauth.SignInError as exc:
            self.problem = str(exc)

    def __call__(self) -> str:
        if self.problem and not self.value:
            raise SendError(self.problem, stage="connect")
        return self.value


def smtp_config(mailbox: Mailbox, *, timeout: float = 60.0) -> SmtpConfig:
    """How the dialer reaches this mailbox's SMTP server (decrypts the password; for OAuth,
    gets an access token: ``oauth.SignInError`` when it cannot)."""
    oauth_login = mailbox.uses_oauth
    return SmtpConfig(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        security=mailbox.smtp_security,  # type: ignore[arg-type]  # a SmtpSecurity value
        username=mailbox.smtp_login,
        password=mailbox.smtp_password if mailbox.smtp_username and not oauth_login else "",
        bearer=Bearer(mailbox) if oauth_login else None,
        max_connections=mailbox.max_connections,
        timeout=timeout,
        connect_timeout=min(timeout, TIMEOUT_SECONDS),
        tls_context=tls_context(),
    )


def check_smtp(mailbox: Mailbox) -> CheckResult:
    """Connects, says EHLO, starts TLS and logs in as the mailbox says, then hangs up."""
    try:
        check_connection(smtp_config(mailbox, timeout=TIMEOUT_SECONDS))
    except (SecretUnreadableError, oauth.SignInError) as exc:
        return CheckResult("SMTP", "failed", str(exc))
    except SendError as exc:
        return CheckResult("SMTP", "failed", str(exc))
    except ValueError as exc:  # a port out of range, an unknown security setting
        return CheckResult("SMTP", "failed", str(exc))
    if mailbox.uses_oauth:
        what = _("connected, TLS and OAuth login as %(user)s accepted") % {
            "user": mailbox.smtp_login
        }
    elif mailbox.smtp_username:
        what = _("connected, TLS and login accepted")
    else:
        what = _("connected")
    return CheckResult("SMTP", "ok", f"{mailbox.smtp_host}:{mailbox.smtp_port}: {what}")


def _text(value: object) -> str:
    # imaplib carries the server's words as bytes (b'[AUTHENTICATIONFAILED] ...').
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _server_words(exc: BaseException) -> str:
    if isinstance(exc, imaplib.IMAP4.error) and exc.args:
        return _text(exc.args[0])
    return str(exc) or exc.__class__.__name__


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), as SELECT wants it."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            encoded = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)


def _quoted(name: str) -> str:
    # imaplib sends arguments as they are: a name with spaces must be an IMAP quoted string.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_imap(mailbox: Mailbox) -> CheckResult:
    """Connects, starts TLS, logs in and selects the mailbox's folder (read-only), then logs out."""
    if not mailbox.imap_host:
        return CheckResult(
            "IMAP",
            "failed" if mailbox.receive_enabled else "skipped",
            _("IMAP is not configured: enter the IMAP host to receive email."),
        )
    try:
        password = "" if mailbox.uses_oauth else mailbox.imap_password
        token = oauth.access_token(mailbox) if mailbox.uses_oauth else ""
    except (SecretUnreadableError, oauth.SignInError) as exc:
        return CheckResult("IMAP", "failed", str(exc))
    host, port, security = mailbox.imap_host, mailbox.imap_port, mailbox.imap_security
    context = tls_context() or ssl.create_default_context()
    client: imaplib.IMAP4 | None = None
    step = _("connect")
    try:
        if security == SmtpSecurity.TLS:
            client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT_SECONDS)
        else:
            client = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
            if security == SmtpSecurity.STARTTLS:
                step = "STARTTLS"
                client.starttls(ssl_context=context)
        step = "LOGIN"
        if token:
            step = imap_oauth_login(client, mailbox.imap_login, token)
        else:
            client.login(mailbox.imap_username, password)
        step = "SELECT"
        status, data = client.select(_quoted(imap_utf7(mailbox.imap_folder)), readonly=True)
        if status != "OK":
            return CheckResult(
                "IMAP", "failed", f"SELECT {mailbox.imap_folder}: {_text(data[-1] if data else '')}"
            )
        count = _text(data[0] if data else "?")
    except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
        reason = _server_words(exc)
        if isinstance(exc, TimeoutError) or reason == "timed out":
            reason = _("no answer within %(seconds)d seconds") % {"seconds": TIMEOUT_SECONDS}
        return CheckResult("IMAP", "failed", f"{step} {host}:{port}: {reason}")
    finally:
        if client is not None:
            # The answer is already known: a failed goodbye changes nothing.
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
    return CheckResult(
        "IMAP",
        "ok",
        _("%(host)s:%(port)s: logged in, folder %(folder)s has %(count)s messages")
        % {"host": host, "port": port, "folder": mailbox.imap_folder, "count": count},
    )


def imap_oauth_login(client: imaplib.IMAP4, user: str, token: str) -> str:
    """Logs in with the access token: AUTHENTICATE XOAUTH2, else OAUTHBEARER; returns the
    mechanism used. A refused token raises ``imaplib.IMAP4.error`` with the server's words."""
    capabilities = {str(c).upper() for c in client.capabilities}
    if "AUTH=XOAUTH2" in capabilities:
        mechanism, initial = "XOAUTH2", sasl.xoauth2(user, token)
    elif "AUTH=OAUTHBEARER" in capabilities:
        mechanism, initial = "OAUTHBEARER", sasl.oauthbearer(user, token)
    else:
        raise imaplib.IMAP4.error(
            _("the server offers no OAuth login (AUTH=XOAUTH2 or AUTH=OAUTHBEARER)")
        )
    answered = False

    def respond(challenge: bytes) -> bytes:
        # The first call sends the token; a second one is the server's refusal (JSON reasons):
        # an empty answer ends the exchange and the server says NO.
        nonlocal answered
        if answered:
            return b""
        answered = True
        return initial

    client.authenticate(mechanism, respond)
    return f"AUTHENTICATE {mechanism}"


def check_mailbox(mailbox: Mailbox) -> list[CheckResult]:
    """Both checks, SMTP first; each independent of the other's result."""
    return [check_smtp(mailbox), check_imap(mailbox)]

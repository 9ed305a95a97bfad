"""A simple, correct SMTP send for one message through a mailbox (test sends, until the pooled
sender of the dialer arrives). Runs in the worker: web requests never wait on SMTP.

Honours the mailbox's security setting: none, STARTTLS (refused if the server does not offer it:
credentials must never travel in clear), or TLS from the first byte. The sandbox mailbox goes to
the sandbox SMTP server its row names (the address `herald run` listens on).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence

from herald.mailboxes import oauth, sasl
from herald.mailboxes.models import Mailbox, SmtpSecurity
from herald.mailboxes.secrets import SecretUnreadableError

TIMEOUT_SECONDS = 30


class SmtpError(Exception):
    """A failed send; ``permanent`` (5xx) means retrying the same message will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def address_of(mailbox: Mailbox) -> tuple[str, int]:
    # The sandbox's row carries the port `herald run` really listens on (ensure_sandbox_mailbox).
    return mailbox.smtp_host, mailbox.smtp_port


def send_message(
    mailbox: Mailbox, message_bytes: bytes, mail_from: str, recipients: Sequence[str]
) -> None:
    """Sends one message; raises ``SmtpError`` saying whether the failure is permanent."""
    host, port = address_of(mailbox)
    context = ssl.create_default_context()
    try:
        if mailbox.smtp_security == SmtpSecurity.TLS:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with client:
            client.ehlo()
            if mailbox.smtp_security == SmtpSecurity.STARTTLS:
                if not client.has_extn("starttls"):
                    raise SmtpError(f"{host}:{port} does not offer STARTTLS", permanent=True)
                client.starttls(context=context)
                client.ehlo()
            if mailbox.uses_oauth:
                _oauth_login(client, mailbox)
            else:
                password = mailbox.smtp_password if mailbox.smtp_username else ""
                if mailbox.smtp_username and password:
                    client.login(mailbox.smtp_username, password)
            refused = client.sendmail(mail_from, list(recipients), message_bytes)
            if refused:
                codes = {code for code, _msg in refused.values()}
                raise SmtpError(
                    f"refused recipients: {', '.join(refused)}",
                    permanent=all(500 <= c < 600 for c in codes),
                )
    except smtplib.SMTPResponseException as exc:
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise SmtpError(f"{exc.smtp_code} {detail}", permanent=500 <= exc.smtp_code < 600) from exc
    except (SecretUnreadableError, oauth.SignInError) as exc:  # fixed by a person: not permanent
        raise SmtpError(str(exc), permanent=False) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SmtpError(f"refused recipients: {', '.join(exc.recipients)}", permanent=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"cannot send through {host}:{port}: {exc}", permanent=False) from exc


def _oauth_login(client: smtplib.SMTP, mailbox: Mailbox) -> None:
    """AUTH XOAUTH2 (else OAUTHBEARER) with the mailbox's access token."""
    token = oauth.access_token(mailbox)
    user = mailbox.smtp_login
    offered = (client.esmtp_features.get("auth") or "").upper().split()
    if "XOAUTH2" in offered:
        mechanism, initial = "XOAUTH2", sasl.xoauth2(user, token)
    elif "OAUTHBEARER" in offered:
        mechanism, initial = "OAUTHBEARER", sasl.oauthbearer(user, token)
    else:
        raise SmtpError(f"{mailbox.smtp_host} offers no OAuth login (XOAUTH2)", permanent=False)
    answered = False

    def respond(challenge: bytes | None = None) -> str:
        # First the token; then, if the server refused it with its reasons, an empty line.
        nonlocal answered
        if answered:
            return ""
        answered = True
        return initial.decode()

    client.auth(mechanism, respond, initial_response_ok=True)

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
    except SecretUnreadableError as exc:  # fixed by re-entering the password: not permanent
        raise SmtpError(str(exc), permanent=False) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SmtpError(f"refused recipients: {', '.join(exc.recipients)}", permanent=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"cannot send through {host}:{port}: {exc}", permanent=False) from exc

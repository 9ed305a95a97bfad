"""Mail Herald sends for itself (a password reset, for now), through a Django email backend:
``EMAIL_BACKEND = "herald.mailboxes.system_mail.Backend"``.

The message goes out through the *system mailbox*: the one named by ``HERALD_SYSTEM_MAILBOX``,
else the sandbox mailbox (so that in the embedded default it lands in the sandbox, where the new
user finds it). Sending is the worker's (principle 2): the backend enqueues a task with the
message as it is written, and the task sends it through the mailbox's SMTP server, from the
mailbox's address, retrying a temporary failure a few times.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from email.utils import formataddr
from functools import partial

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.db import transaction
from django_tasks import task

from herald.mailboxes.models import Mailbox

logger = logging.getLogger(__name__)


def system_mailbox() -> Mailbox | None:
    if settings.SYSTEM_MAILBOX:
        return Mailbox.objects.filter(name=settings.SYSTEM_MAILBOX).first()
    return Mailbox.objects.filter(is_sandbox=True).first()


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        mailbox = system_mailbox()
        if mailbox is None:
            logger.error("no system mailbox: set HERALD_SYSTEM_MAILBOX to a mailbox's name")
            if not self.fail_silently:
                raise ValueError("no system mailbox: set HERALD_SYSTEM_MAILBOX")
            return 0
        for message in email_messages:
            message.from_email = formataddr((mailbox.from_name, mailbox.from_address))
            raw = base64.b64encode(message.message().as_bytes()).decode("ascii")  # JSON-safe
            transaction.on_commit(partial(_enqueue, mailbox.pk, raw, list(message.recipients())))
        return len(email_messages)


def _enqueue(mailbox_id: int, raw: str, recipients: list[str]) -> None:
    send_system_mail.enqueue(mailbox_id, raw, recipients)


@task(queue_name="mail")
def send_system_mail(mailbox_id: int, raw: str, recipients: list[str]) -> str:
    from herald.mailboxes.smtp import SmtpError, send_message

    mailbox = Mailbox.objects.get(pk=mailbox_id)
    data = base64.b64decode(raw)
    for attempt in range(3):
        try:
            send_message(mailbox, data, mailbox.envelope_from, recipients)
            return "sent"
        except SmtpError as exc:
            logger.warning(
                "system mail not sent",
                extra={"mailbox": mailbox.name, "error": str(exc), "attempt": attempt + 1},
            )
            if exc.permanent:
                return f"failed: {exc}"
    return "failed: gave up after 3 attempts"

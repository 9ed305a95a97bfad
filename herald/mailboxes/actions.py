"""Changes to mailboxes. Each one transaction, each audited."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from herald.audit.actions import diff, record
from herald.audit.actors import Actor
from herald.mailboxes.models import Mailbox, SmtpSecurity

SANDBOX_NAME = "Sandbox"


@transaction.atomic
def ensure_sandbox_mailbox() -> Mailbox:
    """The "Sandbox" mailbox exists from the first start on; created once, audited as the system."""
    existing = Mailbox.objects.filter(is_sandbox=True).first()
    if existing is not None:
        return existing
    mailbox = Mailbox.objects.create(
        name=SANDBOX_NAME,
        from_address="campaigns@sandbox.herald.invalid",
        from_name="Herald Sandbox",
        smtp_host=settings.SANDBOX_SMTP_HOST,
        smtp_port=settings.SANDBOX_SMTP_PORT,
        smtp_security=SmtpSecurity.NONE,
        is_sandbox=True,
    )
    record(
        Actor.system("first start"),
        "mailbox.create",
        mailbox,
        diff({}, {"name": mailbox.name, "from_address": mailbox.from_address}),
    )
    return mailbox

"""Changes to mailboxes. Each one transaction, each audited."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from herald.audit.actions import diff, record
from herald.audit.actors import Actor
from herald.mailboxes.models import Mailbox, SmtpSecurity

SANDBOX_NAME = "Sandbox"


@transaction.atomic
def ensure_sandbox_mailbox(host: str | None = None, port: int | None = None) -> Mailbox:
    """The "Sandbox" mailbox exists from the first start on; created once, audited as the system.

    Its row says where the sandbox SMTP server listens: ``herald run`` passes the address it
    really listens on, so that every process (web, workers elsewhere) sends to the right port.
    """
    existing = Mailbox.objects.select_for_update().filter(is_sandbox=True).first()
    listening = host is not None and port is not None
    host = host or settings.SANDBOX_SMTP_HOST
    port = settings.SANDBOX_SMTP_PORT if port is None else port
    if existing is not None:
        if listening and (existing.smtp_host, existing.smtp_port) != (host, port):
            before = {"smtp_host": existing.smtp_host, "smtp_port": existing.smtp_port}
            existing.smtp_host, existing.smtp_port = host, port
            existing.save(update_fields=["smtp_host", "smtp_port"])
            record(
                Actor.system("start"),
                "mailbox.change",
                existing,
                diff(before, {"smtp_host": host, "smtp_port": port}),
            )
        return existing
    mailbox = Mailbox.objects.create(
        name=SANDBOX_NAME,
        from_address="campaigns@sandbox.herald.invalid",
        from_name="Herald Sandbox",
        smtp_host=host,
        smtp_port=port,
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

"""Background work of messaging: sending a test message (worker side, on the "mail" queue)."""

from __future__ import annotations

import logging

from django.utils import timezone
from django_tasks import task

from herald.accounts.models import Account
from herald.mailboxes.smtp import SmtpError, send_message
from herald.messaging.mime import build_message, message_bytes
from herald.messaging.models import TestSend, TestSendStatus
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import Links, RenderError, render

logger = logging.getLogger(__name__)


def preview_links() -> Links:
    from django.conf import settings

    return Links.preview(f"{settings.BASE_URL}/preview-links")


@task(queue_name="mail")
def send_test_message(test_send_id: int) -> str:
    """Renders the test message with its sample variables and sends it through its mailbox."""
    test = TestSend.objects.select_related("version", "mailbox", "mailbox__signature").get(
        pk=test_send_id
    )
    mailbox = test.mailbox
    try:
        compiled = compiled_version(test.version, mailbox.signature)
        rendered = render(
            compiled,
            {"email": test.to, **test.variables},
            Account.load().variables(),
            preview_links(),
        )
        msg = build_message(
            rendered, from_address=mailbox.from_address, from_name=mailbox.from_name, to=test.to
        )
        send_message(mailbox, message_bytes(msg), mailbox.envelope_from, [test.to])
    except (RenderError, SmtpError) as exc:
        test.status, test.error = TestSendStatus.FAILED, str(exc)
        test.save(update_fields=["status", "error"])
        logger.warning("test send failed", extra={"test_send": test.pk, "error": str(exc)})
        return "failed"
    test.status, test.sent_at = TestSendStatus.SENT, timezone.now()
    test.save(update_fields=["status", "sent_at"])
    return "sent"

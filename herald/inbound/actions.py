"""Changes people make to inbound mail (audited): processing a quarantined message again."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from herald.audit.actions import diff, record
from herald.audit.actors import Actor
from herald.inbound.models import InboundMessage, InboundStatus
from herald.inbound.processing import process_message


def do_retry_inbound(actor: Actor, row: InboundMessage) -> str:
    """Processes a quarantined message again (after a fix); returns its new status."""
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().get(pk=row.pk)
        if locked.status != InboundStatus.QUARANTINED:
            raise ValidationError("Only a quarantined message can be processed again.")
        if locked.size > settings.INBOUND_MAX_MESSAGE_MB * 1024 * 1024:
            raise ValidationError(
                "This message was over the size limit: only its headers were kept. "
                "Download it from the mail server instead."
            )
        InboundMessage.objects.filter(pk=row.pk).update(status=InboundStatus.RECEIVED)
        record(
            actor,
            "inbound.retry",
            locked,
            diff({"status": "quarantined"}, {"status": "received"}),
        )
    return process_message(row.pk)

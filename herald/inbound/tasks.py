"""Background work of inbound mail: sending automatic answers (on the "mail" queue)."""

from __future__ import annotations

import logging

from django_tasks import task

from herald.inbound.models import InboundMessage
from herald.inbound.replies import AnswerError, send_answer

logger = logging.getLogger(__name__)


@task(queue_name="mail")
def send_auto_answer(inbound_id: int, purpose: str) -> str:
    """Sends the mailbox's acknowledgement ("ack") or opt-out confirmation ("optout") to the
    sender of an inbound message; returns "sent" or "failed: why"."""
    row = InboundMessage.objects.select_related("mailbox", "mailbox__signature").get(pk=inbound_id)
    try:
        to = send_answer(row, purpose)
    except AnswerError as exc:
        logger.warning(
            "automatic answer failed",
            extra={"inbound": inbound_id, "purpose": purpose, "error": str(exc)},
        )
        return f"failed: {exc}"
    logger.info("automatic answer sent", extra={"inbound": inbound_id, "purpose": purpose})
    return f"sent to {to}"

"""Background work of tracking: the opt-out confirmation email (worker side, "mail" queue)."""

from __future__ import annotations

import logging

from django.utils import timezone
from django_tasks import task

from herald.accounts.models import Account
from herald.campaigns import links, tokens
from herald.campaigns.models import Campaign, Delivery
from herald.contacts.models import Contact
from herald.mailboxes.smtp import SmtpError, send_message
from herald.messaging.mime import build_message, message_bytes
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import RenderError, render

logger = logging.getLogger(__name__)


@task(queue_name="mail")
def send_optout_confirmation(delivery_id: int) -> str:
    """Emails the campaign's opt-out confirmation to the address that just unsubscribed.

    Sent through the campaign's mailbox, to that address only, even though it is suppressed
    now: it is the answer to the recipient's own request. A template that fails for the contact
    or a server that refuses is logged, not retried (the unsubscription itself stands).
    """
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    campaign = Campaign.objects.select_related(
        "mailbox__signature", "optout_template__current_version"
    ).get(pk=delivery.campaign_id)
    template = campaign.optout_template
    version = template.current_version if template is not None else None
    if version is None:
        return "no template"
    mailbox = campaign.mailbox
    contact = Contact.objects.filter(pk=delivery.contact_id).prefetch_related("addresses").first()
    variables = contact.variables() if contact is not None else {}
    variables["email"] = delivery.email
    token = tokens.reply_token(delivery.pk)
    try:
        rendered = render(
            compiled_version(version, mailbox.signature),
            variables,
            Account.load().variables(),
            links.links_for(token),
            today=timezone.localdate(),
        )
        message = build_message(
            rendered,
            from_address=mailbox.from_address,
            from_name=mailbox.from_name,
            to=delivery.email,
            reply_to=mailbox.reply_to,
            headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        )
        send_message(mailbox, message_bytes(message), mailbox.envelope_from, [delivery.email])
    except (RenderError, SmtpError) as exc:
        logger.warning(
            "opt-out confirmation not sent", extra={"delivery": delivery_id, "error": str(exc)}
        )
        return "failed"
    return "sent"

"""A delivery's message as it was sent: rendered again from the same inputs the dialer used.

The dialer (``herald.dialer.sender.Dialer._message``) renders the campaign's pinned template
version (with the mailbox's signature when the version has none) for the contact's variables,
with the address the message went to as ``${email}``, the account's variables, the delivery's
links (``herald.campaigns.links``) and, when the campaign tracks clicks, every web link
rewritten to its tracked form; ``${today}`` is the sending day in the account's time zone. The
same inputs give the same message: "view in browser" shows it, and a link whose URL depends on
the recipient's variables is found in it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, replace

from django.utils import timezone

from herald.accounts.models import Account
from herald.campaigns import links, tokens
from herald.campaigns.models import Campaign, Delivery
from herald.contacts.models import Contact
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import RenderedMessage, RenderError, render


@dataclass(frozen=True)
class Sent:
    message: RenderedMessage
    links: dict[int, str]  # link number -> the URL it pointed to (before tracking)


def render_sent(delivery: Delivery, campaign: Campaign | None = None) -> Sent | None:
    """The delivery's message as sent, or None when it cannot be rendered any more (its
    contact or template version is gone, or the template fails for the contact now)."""
    campaign = campaign or Campaign.objects.select_related(
        "version", "template__current_version", "mailbox__signature"
    ).get(pk=delivery.campaign_id)
    version = campaign.version or campaign.template.current_version
    contact = Contact.objects.filter(pk=delivery.contact_id).prefetch_related("addresses").first()
    if version is None or contact is None:
        return None
    compiled = compiled_version(version, campaign.mailbox.signature)
    account = Account.load()
    zone = zoneinfo.ZoneInfo(account.timezone or "UTC")
    day = (delivery.sent_at or timezone.now()).astimezone(zone).date()
    variables = contact.variables()
    variables["email"] = delivery.email
    token = tokens.reply_token(delivery.pk)
    found: dict[int, str] = {}

    def rewrite(index: int, url: str) -> str:
        found.setdefault(index, url)
        return links.click_url(token, index) if campaign.track_clicks else url

    try:
        message = render(
            compiled,
            variables,
            account.variables(),
            links.links_for(token),
            rewrite_link=rewrite,
            today=day,
        )
    except RenderError:
        return None
    if campaign.subject:
        message = replace(message, subject=campaign.subject)
    return Sent(message, found)

"""Reads of the conversation pages."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from herald.accounts.models import Account
from herald.campaigns.links import links_for
from herald.campaigns.models import Delivery
from herald.campaigns.tokens import reply_token
from herald.conversations.display import safe_html
from herald.conversations.models import Attachment, Conversation, ConversationStatus, Message
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import RenderError, render

INLINE_IMAGE_BYTES = 512 * 1024  # cid: images up to this size are shown inline (data: URLs)


def conversations(status: str = "open", mailbox_id: int | None = None) -> QuerySet[Conversation]:
    """The list page's rows, most recent first (the ``conversation_recent`` index)."""
    rows = Conversation.objects.select_related("contact", "mailbox", "campaign").annotate(
        message_count=Count("messages")
    )
    if status in ConversationStatus.values:
        rows = rows.filter(status=status)
    if mailbox_id:
        rows = rows.filter(mailbox_id=mailbox_id)
    return rows.order_by("-last_message_at")


@dataclass(frozen=True)
class Shown:
    message: Message
    html: str
    blocked_images: int
    attachments: list[Attachment]


def thread(conversation: Conversation, *, show_images: bool) -> list[Shown]:
    """The conversation's messages with their HTML made safe to show."""
    messages = list(conversation.messages.prefetch_related("attachments").order_by("at", "id"))
    shown = []
    for message in messages:
        parts = list(message.attachments.all())
        inline = {
            a.content_id: f"data:{a.content_type};base64,"
            + base64.b64encode(bytes(a.data)).decode("ascii")
            for a in parts
            if a.content_id
            and a.content_type.startswith("image/")
            and a.content_type != "image/svg+xml"
            and not a.omitted
            and a.size <= INLINE_IMAGE_BYTES
        }
        safe = safe_html(message.html, show_images=show_images, inline=inline)
        shown.append(Shown(message, safe.html if message.html else "", safe.blocked_images, parts))
    return shown


@dataclass(frozen=True)
class Outbound:
    delivery: Delivery
    subject: str
    text: str
    error: str


def outbound(delivery: Delivery | None) -> Outbound | None:
    """The campaign message a conversation answers, rendered again from its pinned template
    version for the contact, as the contact received it."""
    if delivery is None:
        return None
    campaign = delivery.campaign
    version = campaign.version or campaign.template.current_version
    if version is None:
        return Outbound(delivery, "", "", "the campaign's template has no saved version")
    try:
        compiled = compiled_version(version, campaign.mailbox.signature)
        variables = delivery.contact.variables() if delivery.contact_id else {}
        variables["email"] = delivery.email
        links = links_for(reply_token(delivery.pk))
        rendered = render(compiled, variables, Account.load().variables(), links)
    except RenderError as exc:
        return Outbound(delivery, "", "", str(exc))
    return Outbound(delivery, campaign.subject or rendered.subject, rendered.text, "")

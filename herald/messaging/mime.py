"""The MIME message of a rendered template, built with the standard library. Pure.

Structure: multipart/alternative (text, HTML, and the invitation as ``text/calendar;
method=REQUEST``, where Gmail and Outlook look for it), wrapped in multipart/mixed when there are
attachments (the invitation is attached again as ``invite.ics`` for Apple Mail and others).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from herald.messaging.rendering import RenderedMessage


def build_message(
    message: RenderedMessage,
    *,
    from_address: str,
    from_name: str = "",
    to: str,
    reply_to: str = "",
    message_id: str | None = None,
    date: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The complete email (headers and body parts) of one rendered message."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = message.subject
    msg["From"] = Address(display_name=from_name, addr_spec=from_address)
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(date) if date else format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = message_id or make_msgid(domain=from_address.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(message.text, subtype="plain", charset="utf-8")
    msg.add_alternative(message.html, subtype="html", charset="utf-8")
    if message.ics is not None:
        msg.add_alternative(
            message.ics.decode("utf-8"),
            subtype="calendar",
            charset="utf-8",
            params={"method": "REQUEST"},
        )
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    if message.ics is not None:
        msg.add_attachment(
            message.ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "REQUEST"},
        )
        *_, invite = msg.iter_attachments()
        invite.set_param("charset", "utf-8")  # the order of the writer's header
        invite.set_param("method", "REQUEST")
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as sent over SMTP (CRLF line ends)."""
    return msg.as_bytes(policy=SMTP)

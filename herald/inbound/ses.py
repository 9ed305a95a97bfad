"""Amazon SES notifications that arrive as email: a bounce or a complaint told in JSON.

SES reports bounces and complaints to an SNS topic; an email subscription to that topic gets
the notification as the message body, either as SES wrote it (the "email" protocol, followed
by SNS's unsubscribe footer) or wrapped in SNS's own JSON envelope, the SES JSON as a string in
its ``Message`` field ("email-json"). Both are read here, as are SES event-publishing records
(``eventType`` instead of ``notificationType``). No library reads these; the format is
Amazon's documented "Amazon SNS notification contents for Amazon SES".
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from herald.inbound import mime

MAX_JSON_CHARS = 1_000_000  # a notification with every header of the original is far smaller
_SENDERS = ("amazonses.com", "sns.amazonaws.com", "amazonaws.com")


def notification(message: Message, body: str, *, from_html: bool) -> dict[str, Any] | None:
    """The SES notification this message carries, or None; ``body`` and ``from_html`` are what
    ``mime.body_text`` gives for it (the caller has them already)."""
    sender = mime.header(message, "From").lower()
    if from_html:
        return None
    start = body.find("{")
    if start < 0 or (not any(s in sender for s in _SENDERS) and start > 0):
        return None
    if '"notificationType"' not in body and '"eventType"' not in body and '"Message"' not in body:
        return None
    found = _json_object(body[start : start + MAX_JSON_CHARS])
    if found is not None and found.get("Type") == "Notification" and "Message" in found:
        inner = found.get("Message")
        found = _json_object(inner) if isinstance(inner, str) else None
    if found is None or _kind(found) is None:
        return None
    return found


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value, _ = json.JSONDecoder().raw_decode(text.strip())
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _kind(found: dict[str, Any]) -> str | None:
    kind = found.get("notificationType") or found.get("eventType")
    return kind if isinstance(kind, str) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def is_bounce(found: dict[str, Any]) -> bool:
    return _kind(found) == "Bounce" and isinstance(found.get("bounce"), dict)


def is_complaint(found: dict[str, Any]) -> bool:
    return _kind(found) == "Complaint" and isinstance(found.get("complaint"), dict)


def bounce_fields(found: dict[str, Any]) -> tuple[bool, list[tuple[str, str | None, str | None]]]:
    """(permanent, [(address, status, diagnostic) per bounced recipient]) of a Bounce."""
    bounce = found["bounce"]
    permanent = bounce.get("bounceType") == "Permanent"
    recipients = [
        (r["emailAddress"], _text(r.get("status")), _text(r.get("diagnosticCode")))
        for r in _dicts(bounce.get("bouncedRecipients"))
        if isinstance(r.get("emailAddress"), str)
    ]
    return permanent, recipients


def complaint_fields(found: dict[str, Any]) -> tuple[str, list[str]]:
    """(feedback type, complaining addresses) of a Complaint."""
    complaint = found["complaint"]
    kind = _text(complaint.get("complaintFeedbackType")) or "abuse"
    addresses = [
        r["emailAddress"]
        for r in _dicts(complaint.get("complainedRecipients"))
        if isinstance(r.get("emailAddress"), str)
    ]
    return kind, addresses


def original(found: dict[str, Any]) -> tuple[str | None, str]:
    """The Message-ID and header block of the message the notification is about."""
    mail = _dict(found.get("mail"))
    headers = [
        (h["name"], h["value"])
        for h in _dicts(mail.get("headers"))
        if isinstance(h.get("name"), str) and isinstance(h.get("value"), str)
    ]
    block = "".join(f"{name}: {value}\n" for name, value in headers)
    common = _dict(mail.get("commonHeaders"))
    message_id = _text(common.get("messageId")) or next(
        (v for n, v in headers if n.lower() == "message-id"), None
    )
    ids = mime.message_ids(message_id or "")
    return (ids[0] if ids else None), block

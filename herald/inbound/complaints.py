"""Abuse complaints: ARF feedback reports (RFC 5965), e.g. a recipient pressing "spam"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from herald.inbound import mime, ses


@dataclass(frozen=True)
class Complaint:
    """What a feedback report says."""

    feedback_type: str  # "abuse", "fraud", "not-spam", … (RFC 5965 3.1)
    recipients: tuple[str, ...]  # who complained (Original-Rcpt-To, else the returned To)
    original_message_id: str | None
    returned_headers: str


def _fields(part: Message) -> dict[str, list[str]]:
    payload = part.get_payload()
    text = ""
    if isinstance(payload, list):
        text = "".join(
            "".join(f"{k}: {v}\n" for k, v in block.items())
            for block in payload
            if isinstance(block, Message)
        )
    else:
        text = mime.part_text(part)
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        name, sep, value = line.partition(":")
        if sep and name and " " not in name.strip():
            fields.setdefault(name.strip().lower(), []).append(value.strip())
    return fields


def parse_complaint(message: Message, found: dict | None = None) -> Complaint | None:
    """The complaint an ARF report (or ``found``, the Amazon SES notification the message
    carries: ``ses.notification``) carries, or None."""
    if found is not None and ses.is_complaint(found):
        feedback, addresses = ses.complaint_fields(found)
        original_id, returned = ses.original(found)
        return Complaint(feedback.lower(), tuple(addresses), original_id, returned)
    report = next(
        (p for p in mime.walk(message) if mime.content_type(p) == "message/feedback-report"), None
    )
    is_arf = mime.content_type(message) == "multipart/report" and (
        mime.param(message, "report-type") == "feedback-report"
    )
    if report is None and not is_arf:
        return None
    fields = _fields(report) if report is not None else {}
    feedback_type = (fields.get("feedback-type") or ["abuse"])[0].lower()
    recipients = [a.strip("<> ") for a in fields.get("original-rcpt-to", []) if "@" in a]
    original_id = None
    returned = ""
    for part in mime.walk(message):
        ctype = mime.content_type(part)
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                returned = "".join(f"{k}: {v}\n" for k, v in inner.items())
                ids = mime.message_ids(str(inner.get("Message-ID", "")))
                original_id = ids[0] if ids else None
                if not recipients:
                    recipients = mime.addresses(inner, "To")
            break
        if ctype == "text/rfc822-headers":
            returned = mime.part_text(part)
            match = re.search(r"^message-id:\s*(<[^>\s]+>)", returned, re.I | re.M)
            original_id = match.group(1) if match else None
            break
    return Complaint(feedback_type, tuple(dict.fromkeys(recipients)), original_id, returned)

"""``classify(raw bytes) -> Classification``: what the inbound pipeline decides about a message.

Pure: no database, no network, no settings read at call time (the opt-out keywords are an
argument). Kinds, tried in this order:

- ``complaint``: an ARF feedback report (RFC 5965);
- ``bounce``: a delivery-failure report, RFC 3464 or free text (see ``bounces``), hard or soft;
  successful-delivery notices are not bounces;
- ``autoreply``: RFC 3834 headers, vendor headers, out-of-office wording (see ``autoreply``);
- ``optout``: the subject or the first word of the new text is an opt-out keyword;
- ``reply``: the message names an outbound message (a reply token in To/Cc/Delivered-To/
  X-Original-To, In-Reply-To or References). Whether that message exists is for the caller to
  check against the database; when it does not, the caller treats the message as ``new``;
- ``new``: nothing links it to an earlier message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

from herald.inbound import mime, ses
from herald.inbound.autoreply import autoreply_reason
from herald.inbound.bounces import Bounce, parse_bounce
from herald.inbound.complaints import Complaint, parse_complaint
from herald.inbound.mime import UnreadableMessage
from herald.inbound.optout import DEFAULT_OPTOUT_KEYWORDS, optout_keyword
from herald.inbound.quotes import extract_reply
from herald.inbound.tokens import find_reply_token, find_reply_token_in_text

Kind = Literal["bounce", "complaint", "autoreply", "optout", "reply", "new"]
KINDS: tuple[Kind, ...] = ("bounce", "complaint", "autoreply", "optout", "reply", "new")
TOKEN_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")

__all__ = [
    "KINDS",
    "Bounce",
    "Classification",
    "Complaint",
    "UnreadableMessage",
    "classify",
]


@dataclass(frozen=True)
class Classification:
    """What one inbound message is, and what the pipeline needs to act on it."""

    kind: Kind
    reason: str  # why this kind, in a few words (shown to managers and in the CLI)
    bounce: Bounce | None
    complaint: Complaint | None
    reply_text: str  # the new text, quoted history and signature removed
    in_reply_to: str | None
    references: tuple[str, ...]
    message_id: str | None
    reply_token: str | None
    from_address: str | None
    subject: str
    original_message_id: str | None  # of the returned original (bounces, complaints)
    optout_keyword: str | None = None

    def as_json(self, file: str) -> dict[str, Any]:
        """The one-line JSON of ``herald mail classify`` (DESIGN.md), plus a few extra keys."""
        bounce = self.bounce
        return {
            "file": file,
            "kind": self.kind,
            "bounce": None
            if bounce is None
            else {
                "type": bounce.type,
                "recipients": list(bounce.recipients),
                "status": bounce.status,
                "diagnostic": bounce.diagnostic,
            },
            "reply_text": self.reply_text,
            "in_reply_to": self.in_reply_to,
            "reason": self.reason,
            "delay_warning": bool(bounce and bounce.delay_warning),
            "reply_token": self.reply_token,
            "message_id": self.message_id,
            "original_message_id": self.original_message_id,
            "from": self.from_address,
            "subject": self.subject,
        }

    def to_json_line(self, file: str) -> str:
        """``as_json`` serialised on one line."""
        return json.dumps(self.as_json(file), ensure_ascii=False)


def classify(
    raw: bytes, *, optout_keywords: tuple[str, ...] = DEFAULT_OPTOUT_KEYWORDS
) -> Classification:
    """Classifies one raw message (as fetched from IMAP, CRLF or LF line endings).

    Raises ``UnreadableMessage`` when the bytes are not an email message at all; any other
    input, however broken, gets a classification.
    """
    message = mime.parse(raw)
    subject = mime.header(message, "Subject")
    from_list = mime.addresses(message, "From")
    from_address = from_list[0] if from_list else None
    message_ids = mime.message_ids(mime.header(message, "Message-ID"))
    in_reply = mime.message_ids(mime.header(message, "In-Reply-To"))
    references = tuple(mime.message_ids(mime.header(message, "References")))
    token = find_reply_token([v for name in TOKEN_HEADERS for v in mime.header_all(message, name)])
    common: dict[str, Any] = {
        "in_reply_to": in_reply[0] if in_reply else None,
        "references": references,
        "message_id": message_ids[0] if message_ids else None,
        "from_address": from_address,
        "subject": subject,
    }

    body, from_html = mime.body_text(message)
    sns = ses.notification(message, body, from_html=from_html)  # read once for both parsers
    complaint = parse_complaint(message, sns)
    if complaint is not None:
        return Classification(
            kind="complaint",
            reason=f"feedback report ({complaint.feedback_type})",
            bounce=None,
            complaint=complaint,
            reply_text="",
            reply_token=token or find_reply_token_in_text(complaint.returned_headers),
            original_message_id=complaint.original_message_id,
            **common,
        )

    bounce = parse_bounce(message, subject, sns)
    if bounce is not None:
        return Classification(
            kind="bounce",
            reason="delay warning" if bounce.delay_warning else f"{bounce.type} bounce",
            bounce=bounce,
            complaint=None,
            reply_text="",
            reply_token=token or find_reply_token_in_text(bounce.returned_headers),
            original_message_id=bounce.original_message_id,
            **common,
        )

    reply_text = extract_reply(body)
    kind, reason, keyword = _reply_kind(
        message,
        subject,
        body,
        reply_text,
        token=token,
        optout_keywords=optout_keywords,
        threaded=bool(in_reply or references),
    )
    return Classification(
        kind=kind,
        reason=reason,
        bounce=None,
        complaint=None,
        reply_text=reply_text,
        reply_token=token,
        original_message_id=None,
        optout_keyword=keyword,
        **common,
    )


def _reply_kind(
    message: Message,
    subject: str,
    body: str,
    reply_text: str,
    *,
    token: str | None,
    optout_keywords: tuple[str, ...],
    threaded: bool,
) -> tuple[Kind, str, str | None]:
    """Kind, reason and opt-out keyword of a message that is no report."""
    reason = autoreply_reason(message, subject, body)
    if reason:
        return "autoreply", reason, None
    keyword = optout_keyword(subject, reply_text, optout_keywords)
    if keyword:
        return "optout", f"opt-out keyword {keyword!r}", keyword
    if token:
        return "reply", "reply token", None
    if threaded:
        return "reply", "In-Reply-To/References", None
    return "new", "no thread", None

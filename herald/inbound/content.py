"""What a conversation keeps of an inbound message: its text, its HTML and its attachments.

Pure. Tolerates broken MIME the way ``herald.inbound.mime`` does: a part that cannot be decoded
gives less, never an exception. Attachments over ``max_attachment_bytes`` are listed with their
size and no data, so that a 200 MB file never fills the database.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message

from herald.inbound import mime

MAX_PARTS = 200  # a message with more parts than this is not one a person wrote


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    content_id: str  # without <>
    size: int
    data: bytes  # empty when omitted
    omitted: bool


@dataclass(frozen=True)
class Content:
    text: str  # the whole text body (quoted history included)
    html: str  # the HTML body as received ("" when none)
    attachments: tuple[Part, ...] = field(default=())


def _filename(part: Message) -> str:
    name = None
    with contextlib.suppress(ValueError, TypeError, LookupError, AttributeError):
        name = part.get_filename()
    if not name:
        return ""
    try:
        return str(make_header(decode_header(name)))[:255]
    except (ValueError, LookupError, UnicodeError, TypeError, AssertionError):
        return str(name)[:255]


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError, LookupError):
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "replace")
    if data is None and part.is_multipart():  # an attached message
        with contextlib.suppress(ValueError, TypeError, LookupError, AttributeError):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0].as_bytes()
    return b""


def _leaves(message: Message) -> list[Message]:
    """The leaf parts, an attached message (message/rfc822) counting as one leaf."""
    out: list[Message] = []
    stack = [message]
    while stack and len(out) < MAX_PARTS:
        part = stack.pop()
        if part.is_multipart() and (part is message or mime.content_type(part) != "message/rfc822"):
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
            continue
        out.append(part)
    return out


def extract(message: Message, *, max_attachment_bytes: int) -> Content:
    """The text body, the HTML body and the attachments (inline images included) of a message."""
    text, from_html = mime.body_text(message)
    full_text = "" if from_html else text
    html = ""
    parts: list[Part] = []
    for part in _leaves(message):
        ctype = mime.content_type(part)
        name = _filename(part)
        content_id = mime.header(part, "Content-ID").strip().strip("<>")[:255]
        attached = mime.is_attachment(part) or bool(name)
        if not attached and ctype == "text/html" and not html:
            html = mime.part_text(part)
            continue
        if not attached and ctype in {"text/plain", "text/html"}:
            continue
        if not attached and not content_id:
            continue
        data = _payload(part)
        omitted = len(data) > max_attachment_bytes
        parts.append(
            Part(
                filename=name or f"attachment-{len(parts) + 1}",
                content_type=ctype[:100],
                content_id=content_id,
                size=len(data),
                data=b"" if omitted else data,
                omitted=omitted,
            )
        )
    if from_html and html:
        full_text = text  # the HTML reduced to text is what there is
    return Content(text=full_text, html=html, attachments=tuple(parts))

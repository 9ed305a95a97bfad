"""Reading raw messages safely: headers decoded, bodies as text, HTML reduced to text.

Everything here tolerates broken input (unknown charsets, bad encodings, truncated MIME): a
malformed part gives less text, never an exception.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import html
import re
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from html.parser import HTMLParser

MAX_TEXT_CHARS = 200_000  # longer bodies are cut: classification never needs more
# Real mail nests parts a few levels deep (a forward of a forward: 6 or 8); reading a thousand
# levels (a hostile message) would exhaust Python's stack in every walk over the parts.
MAX_DEPTH = 50
_TOO_DEEP = f"its parts nest more than {MAX_DEPTH} levels deep"


class UnreadableMessage(ValueError):  # noqa: N818 - the name the issue and callers use
    """The bytes are not an email message at all (empty, or no header field)."""


def parse(raw: bytes) -> Message:
    """Parses raw bytes into a message; raises UnreadableMessage when they are not a message."""
    if not isinstance(raw, bytes | bytearray):
        raise UnreadableMessage(f"expected bytes, got {type(raw).__name__}")
    if not raw.strip():
        raise UnreadableMessage("the message is empty")
    # compat32 parses lazily and is several times faster than the modern header registry;
    # headers are decoded by header() below.
    try:
        message = email.message_from_bytes(bytes(raw), policy=compat32)
    except RecursionError:  # the parser recurses once per level of nested parts
        raise UnreadableMessage(_TOO_DEEP) from None
    if not message.keys():
        raise UnreadableMessage("no header field found: this is not an email message")
    if depth(message) > MAX_DEPTH:
        raise UnreadableMessage(_TOO_DEEP)
    return message


def depth(message: Message) -> int:
    """How deeply the message's parts nest (1: a single part), counted without recursion."""
    deepest, pending = 0, [(message, 1)]
    while pending:
        part, level = pending.pop()
        deepest = max(deepest, level)
        if part.is_multipart() and level <= MAX_DEPTH:
            payload = part.get_payload()
            if isinstance(payload, list):
                pending.extend((c, level + 1) for c in payload if isinstance(c, Message))
    return deepest


def _stored(message: Message, name: str) -> str | None:
    """A header's value as the message carries it. Raw 8-bit text (RFC 6532: mail programs
    that speak SMTPUTF8 send UTF-8 headers as they are) is read as UTF-8, else as Windows-1252;
    the parser keeps such bytes as surrogate escapes, which would show as replacement marks."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            text = str(value)
            if any("\udc80" <= c <= "\udcff" for c in text):
                data = text.encode("utf-8", "surrogateescape")
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return data.decode("cp1252", "replace")
            return text
    return None


def header(message: Message, name: str) -> str:
    """A header's value decoded to text (RFC 2047, or raw UTF-8), unfolded; '' when absent."""
    value = _stored(message, name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, TypeError, AssertionError, MessageError):
        text = str(value)  # a broken encoded-word (bad charset name, bad base64): keep it raw
    return re.sub(r"\s*\r?\n\s*", " ", text).strip()


def header_all(message: Message, name: str) -> list[str]:
    """All values of a header (raw strings), e.g. every Received or To field."""
    return [str(v) for v in (message.get_all(name) or [])]


def addresses(message: Message, *names: str) -> list[str]:
    """The bare addresses of the named address headers, in order."""
    values = [v for name in names for v in header_all(message, name)]
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError):
        return []
    return [addr.strip() for _, addr in pairs if "@" in addr]


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References value."""
    return re.findall(r"<[^<>\s]+>", value)


def content_type(part: Message) -> str:
    """The lower-case MIME type of a part (``text/plain`` when missing or broken)."""
    try:
        return part.get_content_type()
    except (ValueError, TypeError, AttributeError):
        return "text/plain"


def param(part: Message, name: str) -> str:
    """A Content-Type parameter in lower case ('' when absent)."""
    try:
        value = part.get_param(name)
    except (ValueError, TypeError, IndexError):
        return ""
    if isinstance(value, tuple):  # RFC 2231 value
        value = value[2]
    return str(value or "").strip().lower()


def part_text(part: Message) -> str:
    """The decoded text of a non-multipart part, whatever its transfer encoding and charset."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError, LookupError):
        payload = None
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if not isinstance(payload, bytes):
        return str(payload)
    payload = payload[: MAX_TEXT_CHARS * 2]
    charset = "utf-8"
    with contextlib.suppress(ValueError, TypeError, LookupError):
        charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return payload.decode("latin-1")  # never fails: every byte is a character


def walk(message: Message) -> list[Message]:
    """Every part of the message, tolerating broken multipart structures."""
    try:
        return list(message.walk())
    except (TypeError, AttributeError, RecursionError):
        return [message]


def is_attachment(part: Message) -> bool:
    """Whether a part is marked as an attachment."""
    return str(part.get("Content-Disposition", "")).strip().lower().startswith("attachment")


def body_text(message: Message) -> tuple[str, bool]:
    """The message's main body as text and whether it came from HTML.

    The first inline text/plain part wins; otherwise the first text/html part reduced to text
    (quoted history dropped). Parts inside attached messages (message/rfc822) are not looked at.
    """
    plain = html_part = None
    for part in _own_parts(message):
        ctype = content_type(part)
        if ctype == "text/plain" and plain is None and not is_attachment(part):
            plain = part
        elif ctype == "text/html" and html_part is None and not is_attachment(part):
            html_part = part
    if plain is not None:
        return part_text(plain)[:MAX_TEXT_CHARS], False
    if html_part is not None:
        return html_to_text(part_text(html_part)[:MAX_TEXT_CHARS]), True
    if not message.is_multipart() and content_type(message).startswith("text/"):
        return part_text(message)[:MAX_TEXT_CHARS], False
    return "", False


def _own_parts(message: Message) -> list[Message]:
    """The leaf parts of a message, not descending into attached messages."""
    out: list[Message] = []
    stack = [message]
    while stack:
        part = stack.pop()
        if content_type(part) == "message/rfc822" and part is not message:
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
            continue
        out.append(part)
    return out


# Outlook's reply and forward blocks (divRplyFwdMsg, appendonsend, Hotmail's stopSpelling rule):
# unquoted history follows, to the end. Blockquotes (Gmail, Apple Mail, Thunderbird, Yahoo)
# become "> " lines instead, so that answers written between or after them stay readable and
# the reply splitter treats them as it treats a text reply.
_STOP_CLASSES = ("divrplyfwdmsg", "appendonsend")
_STOP_IDS = (
    "divrplyfwdmsg",
    "appendonsend",
    "mail-editor-reference-message-container",
    "stopspelling",
)
_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
MAX_QUOTE_DEPTH = 20  # deeper blockquotes are quoted at this depth


class _TextExtractor(HTMLParser):
    """Collects visible text, blockquotes as "> " lines, stopping at Outlook's history block."""

    def __init__(self, *, stop_at_quotes: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.outer: list[list[str]] = []  # the text around each open blockquote
        self.skip_depth = 0  # inside <style>/<script>/<head>
        self.stop_at_quotes = stop_at_quotes
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if tag in {"style", "script", "head", "title"}:
            self.skip_depth += 1
            return
        values = {k: (v or "").lower() for k, v in attrs}
        classes = values.get("class", "")
        ident = values.get("id", "")
        if self.stop_at_quotes and (
            any(c in classes for c in _STOP_CLASSES) or any(i in ident for i in _STOP_IDS)
        ):
            self.stopped = True
            return
        if tag == "blockquote" and len(self.outer) < MAX_QUOTE_DEPTH:
            self.outer.append(self.parts)
            self.parts = []
            return
        if tag == "hr" or tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"style", "script", "head", "title"} and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "blockquote" and self.outer and not self.stopped:
            self.close_quote()
        elif tag in _BLOCK and tag not in _VOID:
            self.parts.append("\n")

    def close_quote(self) -> None:
        lines = [line.strip() for line in "".join(self.parts).split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        self.parts = self.outer.pop()
        quoted = "\n".join(">" + (line if line.startswith(">") else " " + line) for line in lines)
        self.parts.append("\n" + quoted.replace("> \n", ">\n").rstrip() + "\n")

    def close(self) -> None:
        super().close()
        while self.outer:  # blockquotes left open by the markup
            self.close_quote()

    def handle_data(self, data: str) -> None:
        if not self.stopped and not self.skip_depth:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(markup: str) -> str:
    """The visible text of an HTML body: blockquotes as "> " lines, nothing from Outlook's
    history block on (``extract_reply`` then separates the new text).

    When nothing comes before that block (an Outlook forward), the whole text comes back, for
    ``extract_reply`` to find the forwarded text in it."""
    text = _visible_text(markup, stop_at_quotes=True)
    return text or _visible_text(markup, stop_at_quotes=False)


def _visible_text(markup: str, *, stop_at_quotes: bool) -> str:
    extractor = _TextExtractor(stop_at_quotes=stop_at_quotes)
    try:
        extractor.feed(markup)
        extractor.close()
    except (AssertionError, ValueError):  # HTMLParser on hopeless markup
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = "".join(extractor.parts)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

"""What an agent writes, made ready to send. Pure: no database, no network.

The composer's HTML is sanitized with nh3 to a small set of formatting tags (what the composer's
buttons produce and what pasting from a mail program or word processor brings that is worth
keeping); the text part is generated from it (``herald.messaging.textpart``). Subjects get one
"Re:" or "Fwd:", never a growing "Re: Re: Re:".
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Protocol

import nh3

from herald.messaging.textpart import html_to_text

MAX_HTML = 1_000_000  # characters of one answer's HTML: a long letter is ~50,000
COMPOSER_TAGS = {
    "p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "a", "ul", "ol", "li",
    "blockquote", "h1", "h2", "h3", "pre", "code", "hr", "table", "thead", "tbody", "tr", "td",
    "th", "img",
}  # fmt: skip
COMPOSER_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|tr|wg|r|rif|i)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def clean_html(markup: str) -> str:
    """The composer's HTML with everything but formatting removed (scripts, styles, event
    handlers, forms, ``javascript:`` and ``data:`` links); plain text is turned into paragraphs."""
    markup = (markup or "")[:MAX_HTML]
    if "<" not in markup:  # typed as text (the API, a browser without the editor)
        paragraphs = [p for p in re.split(r"\n\s*\n", markup.strip()) if p.strip()]
        markup = "".join(
            "<p>" + htmllib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs
        )
    return nh3.clean(
        markup,
        tags=COMPOSER_TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=COMPOSER_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    ).strip()


def text_of(html: str) -> str:
    """The plain-text part of an answer."""
    return html_to_text(html).strip() + "\n" if html.strip() else ""


def bare_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes, in any of the usual languages."""
    return _PREFIX.sub("", subject or "").strip()


def subject_for(mode: str, subject: str) -> str:
    """The subject of an answer: "Re: …" for replies, "Fwd: …" for forwards, as is for notes."""
    bare = bare_subject(subject)
    if mode == "note":
        return bare
    if mode == "forward":
        return f"Fwd: {bare}" if bare else "Fwd:"
    return f"Re: {bare}" if bare else "Re:"


class Forwarded(Protocol):
    from_address: str
    to_address: str
    subject: str
    text: str
    body: str
    html: str


def forwarded_html(html: str, original: Forwarded, *, when: str = "") -> str:
    """The agent's words followed by the forwarded message, as mail programs write it."""
    head = "".join(
        f"{label}: {htmllib.escape(value)}<br>"
        for label, value in (
            ("From", original.from_address),
            ("Date", when),
            ("Subject", original.subject),
            ("To", original.to_address),
        )
        if value
    )
    body = (
        clean_html(original.html)
        if original.html
        else "<p>" + htmllib.escape(original.body or original.text).replace("\n", "<br>") + "</p>"
    )
    return f"{html}<p>---------- Forwarded message ----------<br>{head}</p>{body}"


def signature_html(signature: str) -> str:
    """The signature block loaded into the composer: separated from the answer above it."""
    return f'<p></p><div class="signature">{clean_html(signature)}</div>' if signature else ""

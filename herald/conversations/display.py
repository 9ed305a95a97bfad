"""Showing inbound HTML safely: sanitized with nh3, remote images held back until asked for.

Pure. Scripts, forms, event handlers, styles that could overlay the page and every URL scheme
but http(s), mailto and cid are removed. An image whose source is remote (a tracking pixel, a
sender's logo) would tell its sender that and when the message was read, and from where: its
source is dropped unless the viewer asked to see images; ``cid:`` images are served from the
message's own attachments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import nh3

ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center", "section"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
for _tag in ("td", "th", "table", "tr", "div", "p", "span", "font", "img"):
    ALLOWED_ATTRIBUTES.setdefault(_tag, set()).update({"align", "width", "height", "color"})
ALLOWED_ATTRIBUTES.setdefault("img", set()).update({"src", "alt", "title"})
# data: only for the message's own inline images (put there by the filter below).
URL_SCHEMES = {"http", "https", "mailto", "cid", "data"}


@dataclass(frozen=True)
class SafeHtml:
    html: str
    blocked_images: int  # remote images held back (the page offers "show images")


def safe_html(
    markup: str, *, show_images: bool = False, inline: Mapping[str, str] | None = None
) -> SafeHtml:
    """``markup`` sanitized for display inside a page.

    ``inline`` maps a Content-ID (without ``<>``) to the URL (or ``data:`` URL) of its
    attachment; ``show_images`` lets remote images load.
    """
    inline = inline or {}
    blocked = 0

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attr == "src":
            if value.lower().startswith("cid:"):
                return inline.get(value[4:].strip("<>"))
            if value.lower().startswith(("http:", "https:", "//")):
                if show_images:
                    return value
                blocked += 1
                return None
            return None  # data: and anything else
        if value.lower().lstrip().startswith("data:"):
            return None  # a data: link or background: never from the sender
        return value

    cleaned = nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=attribute_filter,
    )
    return SafeHtml(cleaned, blocked)

"""The open pixel: the image every tracked message carries, and how it goes into the HTML."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import replace

from herald.messaging.rendering import RenderedMessage

# The smallest transparent 1x1 GIF (43 bytes).
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def pixel_tag(url: str) -> str:
    """An invisible 1x1 image: no alt text for screen readers to read out, no border or gap."""
    src = htmllib.escape(url, quote=True)
    return (
        f'<img src="{src}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
    )


def add_open_pixel(html: str, url: str) -> str:
    """``html`` with the pixel at the end of its body (or appended when it has no body)."""
    tag = pixel_tag(url)
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + tag
    at = ends[-1].start()
    return html[:at] + tag + "\n" + html[at:]


def with_open_pixel(message: RenderedMessage, url: str) -> RenderedMessage:
    """The rendered message with the pixel in its HTML part."""
    return replace(message, html=add_open_pixel(message.html, url))

"""The recipient-facing links of a delivery: unsubscribe, view in browser, rating, open pixel
and tracked clicks. Each names its delivery by the reply token (``tokens``), which is already an
HMAC of the delivery id: a forged or altered token names no delivery. The endpoints that answer
these URLs belong to the tracking app.
"""

from __future__ import annotations

from django.conf import settings

from herald.campaigns.tokens import reply_token
from herald.messaging.rendering import RATING_SCORES, Links


def base_url() -> str:
    return settings.BASE_URL


def unsubscribe_url(token: str) -> str:
    return f"{base_url()}/u/{token}"


def links_for(token: str) -> Links:
    """The system links (``${unsubscribe_url}``, ``${view_in_browser_url}``, ratings)."""
    base = base_url()
    return Links(
        unsubscribe_url=f"{base}/u/{token}",
        view_in_browser_url=f"{base}/v/{token}",
        rating_urls=tuple(f"{base}/r/{token}/{n}" for n in RATING_SCORES),
    )


def click_url(token: str, index: int) -> str:
    """The tracked form of the template's link number ``index`` (the redirect looks the URL up
    in the campaign's template version: it only ever goes where the message pointed)."""
    return f"{base_url()}/c/{token}/{index}"


def open_pixel_url(token: str) -> str:
    return f"{base_url()}/o/{token}.gif"


def delivery_links(delivery_id: int) -> Links:
    return links_for(reply_token(delivery_id))

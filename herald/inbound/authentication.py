"""Whether the receiving server authenticated a message's sender, from the
``Authentication-Results`` header it added (RFC 8601), parsed with ``authres``.

An opt-out by reply that carries no reply token of Herald's could come from anyone: a From
address is easy to forge. It is acted on only when the server that received it says the sender
is who the From says: DMARC passed for the From domain, or DKIM passed for a domain aligned with
it, or SPF passed for an envelope sender aligned with it ("aligned": the same domain, or one is a
subdomain of the other — DMARC's relaxed alignment, without the public-suffix list).

Which header counts: anyone can write an ``Authentication-Results`` header into a message, so
only the receiving server's own is read. With ``INBOUND_TRUSTED_AUTHSERV_IDS`` set (the
``authserv-id`` your server writes first in the header, e.g. ``mx.google.com``), only headers with
one of those ids count; without it, only the topmost header (the one the last server added,
above anything the sender wrote).
"""

from __future__ import annotations

import logging
from email.message import Message

import authres
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_HEADER = 8192  # longer is not a server's header: not read at all
MAX_HEADERS = 20  # headers looked at (trusted ids configured): the topmost ones


def _aligned(domain: str, from_domain: str) -> bool:
    domain, from_domain = domain.strip().lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    return (
        domain == from_domain
        or domain.endswith("." + from_domain)
        or from_domain.endswith("." + domain)
    )


def _domain(value: str) -> str:
    """The domain of an address, or the value itself when it is one (``smtp.mailfrom`` may
    give a bare domain, which ``contacts.addresses.domain_of`` would not)."""
    return value.rpartition("@")[2].strip().strip("<>").lower()


def _parsed(message: Message) -> list[authres.AuthenticationResultsHeader]:
    """The headers that count, parsed: the topmost, or those of the trusted authserv-ids."""
    trusted = {i.lower() for i in settings.INBOUND_TRUSTED_AUTHSERV_IDS}
    values = [str(v) for v in (message.get_all("Authentication-Results") or [])]
    parsed = []
    for value in values[: MAX_HEADERS if trusted else 1]:
        if len(value) > MAX_HEADER:
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse(
                "Authentication-Results: " + " ".join(value.split())
            )
        except Exception:  # authres raises its own syntax errors and others on odd input
            logger.info("an Authentication-Results header does not parse", exc_info=True)
            continue
        if not trusted or str(header.authserv_id).lower() in trusted:
            parsed.append(header)
    return parsed


def sender_authenticated(message: Message, from_address: str) -> str | None:
    """How the receiving server authenticated the From address (e.g. "dmarc=pass"), or None
    when it did not (no trusted header, no aligned pass, a header that does not parse)."""
    from_domain = _domain(from_address)
    if not from_domain:
        return None
    for header in _parsed(message):
        for result in header.results:
            if str(result.result).lower() != "pass":
                continue
            method = str(result.method).lower()
            props = {(p.type.lower(), p.name.lower()): str(p.value) for p in result.properties}
            if method == "dmarc" and _aligned(props.get(("header", "from"), ""), from_domain):
                return "dmarc=pass"
            if method == "dkim" and _aligned(props.get(("header", "d"), ""), from_domain):
                return f"dkim=pass ({props[('header', 'd')].lower()})"
            mailfrom = _domain(props.get(("smtp", "mailfrom"), ""))
            if method == "spf" and _aligned(mailfrom, from_domain):
                return f"spf=pass ({mailfrom})"
    return None

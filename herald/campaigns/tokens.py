"""Per-delivery identifiers derived from the delivery's id: its reply token and its Message-ID.

Nothing is stored: the token *is* the delivery id (50 bits) followed by an HMAC of it (50 bits,
keyed from ``SECRET_KEY``), written as the 20 lower-case base32 characters of
``herald.inbound.tokens`` (``campaigns+r-<token>@example.com``). So a launch writes no per-row
random value, a message sent again after a crash carries the same Message-ID and token (a
receiver may recognise the duplicate), and anything that comes back names its delivery without a
lookup table. A token with a wrong MAC names no delivery. Changing ``SECRET_KEY`` orphans the
tokens of messages already sent (replies then thread by address instead).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.conf import settings

from herald.inbound.tokens import is_reply_token

ID_BITS = 50  # ~10^15 deliveries
MAC_BITS = 100 - ID_BITS
_MESSAGE_ID_PREFIX = "h."
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower case
_AS_BASE32_DIGITS = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")


@functools.cache
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"herald delivery token v1\x00" + secret.encode()).digest()


def _mac(delivery_id: int) -> int:
    digest = hmac.digest(_key(settings.SECRET_KEY), delivery_id.to_bytes(8, "big"), "sha256")
    return int.from_bytes(digest[:8], "big") >> (64 - MAC_BITS)


def reply_token(delivery_id: int) -> str:
    """The reply token of a delivery: 20 lower-case base32 characters."""
    if not 0 < delivery_id < 1 << ID_BITS:
        raise ValueError(f"delivery id {delivery_id} does not fit in a reply token")
    value = (delivery_id << MAC_BITS) | _mac(delivery_id)
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(95, -1, -5))


def delivery_id(token: str) -> int | None:
    """The delivery a reply token names, or None when it is not one of Herald's."""
    token = token.lower()
    if not is_reply_token(token):
        return None
    # The base32 digits as int() reads base 32 (0-9a-v): every open and click decodes one.
    value = int(token.translate(_AS_BASE32_DIGITS), 32)
    ident, mac = value >> MAC_BITS, value & ((1 << MAC_BITS) - 1)
    if ident == 0 or not hmac.compare_digest(
        mac.to_bytes(7, "big"), _mac(ident).to_bytes(7, "big")
    ):
        return None
    return ident


def message_id(delivery_id: int, domain: str) -> str:
    """The Message-ID of a delivery's message, in the mailbox's domain."""
    return message_id_for_token(reply_token(delivery_id), domain)


def message_id_for_token(token: str, domain: str) -> str:
    """``message_id`` from the delivery's reply token, when the caller has it already (the
    dialer: one HMAC per message, not two)."""
    return f"<{_MESSAGE_ID_PREFIX}{token}@{domain}>"


def delivery_id_from_message_id(value: str) -> int | None:
    """The delivery whose Message-ID this is (``<h.TOKEN@domain>``), or None."""
    value = value.strip().strip("<>")
    local = value.partition("@")[0]
    if not local.startswith(_MESSAGE_ID_PREFIX):
        return None
    return delivery_id(local[len(_MESSAGE_ID_PREFIX) :])

"""Per-delivery identifiers derived from the delivery's id: its reply token and its Message-ID.

Nothing is stored: the token *is* the delivery id (50 bits) followed by an HMAC of it (50 bits,
keyed from ``SECRET_KEY``), written as the 20 lower-case base32 characters of
``herald.inbound.tokens`` (``campaigns+r-<token>@example.com``). So a launch writes no per-row
random value, a message sent again after a crash carries the same Message-ID and token (a
receiver may recognise the duplicate), and anything that comes back names its delivery without a
lookup table. A token with a wrong MAC names no delivery. Changing ``SECRET_KEY`` orphans the
tokens of messages already sent (replies then thread by address instead).

The agent desk's outbound messages carry tokens of the same shape built from the desk message's
id under another key (``desk_token``): a delivery token never reads as a desk token nor the
reverse, so a reply names exactly one thing.
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


_DELIVERY = b"herald delivery token v1"
_DESK = b"herald desk token v1"
_DESK_MESSAGE_ID_PREFIX = "d."


@functools.cache
def _key(secret: str, purpose: bytes = _DELIVERY) -> bytes:
    return hashlib.sha256(purpose + b"\x00" + secret.encode()).digest()


def _mac(ident: int, purpose: bytes = _DELIVERY) -> int:
    digest = hmac.digest(_key(settings.SECRET_KEY, purpose), ident.to_bytes(8, "big"), "sha256")
    return int.from_bytes(digest[:8], "big") >> (64 - MAC_BITS)


def _token(ident: int, purpose: bytes) -> str:
    if not 0 < ident < 1 << ID_BITS:
        raise ValueError(f"id {ident} does not fit in a reply token")
    value = (ident << MAC_BITS) | _mac(ident, purpose)
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(95, -1, -5))


def _ident(token: str, purpose: bytes) -> int | None:
    token = token.lower()
    if not is_reply_token(token):
        return None
    # The base32 digits as int() reads base 32 (0-9a-v): every open and click decodes one.
    value = int(token.translate(_AS_BASE32_DIGITS), 32)
    ident, mac = value >> MAC_BITS, value & ((1 << MAC_BITS) - 1)
    if ident == 0 or not hmac.compare_digest(
        mac.to_bytes(7, "big"), _mac(ident, purpose).to_bytes(7, "big")
    ):
        return None
    return ident


def reply_token(delivery_id: int) -> str:
    """The reply token of a delivery: 20 lower-case base32 characters."""
    return _token(delivery_id, _DELIVERY)


def delivery_id(token: str) -> int | None:
    """The delivery a reply token names, or None when it is not one of Herald's."""
    return _ident(token, _DELIVERY)


def desk_token(message_id: int) -> str:
    """The reply token of an agent's outbound message (``conversations.Message`` id)."""
    return _token(message_id, _DESK)


def desk_message_id(token: str) -> int | None:
    """The desk message a reply token names, or None."""
    return _ident(token, _DESK)


def desk_message_id_header(token: str, domain: str) -> str:
    """The Message-ID of a desk message: ``<d.TOKEN@domain>``."""
    return f"<{_DESK_MESSAGE_ID_PREFIX}{token}@{domain}>"


def desk_message_id_from_header(value: str) -> int | None:
    """The desk message whose Message-ID this is, or None."""
    local = value.strip().strip("<>").partition("@")[0]
    if not local.startswith(_DESK_MESSAGE_ID_PREFIX):
        return None
    return desk_message_id(local[len(_DESK_MESSAGE_ID_PREFIX) :])


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

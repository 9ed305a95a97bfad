"""Reply tokens: how an outbound delivery is recognised again when something comes back.

Each delivery carries a random token in the plus-address of its Reply-To (and of its envelope
sender, for bounces): ``campaigns+r-<token>@example.com``. The token is 20 characters of the
lower-case RFC 4648 base32 alphabet (``a-z`` and ``2-7``, 100 bits), so that it survives mail
systems and clients that lower-case addresses, and contains no character that needs quoting in a
local part. ``find_reply_token`` accepts it in any case and always returns it in lower case.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable

TOKEN_LENGTH = 20  # 100 bits of base32: unguessable, and short enough for a 64-octet local part
TOKEN_PREFIX = "+r-"  # noqa: S105 - a plus-address tag, not a secret
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
_TOKEN = re.compile(rf"^[a-z2-7]{{{TOKEN_LENGTH}}}$")
# The token is followed by "@" or by another plus-tag some forwarders append (a+r-TOKEN+x@d).
_FIND = re.compile(rf"\+r-([a-z2-7]{{{TOKEN_LENGTH}}})(?=[@+])", re.IGNORECASE)


def new_reply_token() -> str:
    """A fresh random reply token (20 lower-case base32 characters)."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()[:TOKEN_LENGTH]


def is_reply_token(value: str) -> bool:
    """Whether ``value`` has the shape of a reply token (in lower case)."""
    return bool(_TOKEN.match(value))


def make_reply_address(local: str, domain: str, token: str) -> str:
    """The Reply-To address ``local+r-token@domain`` of one delivery.

    Raises ``ValueError`` when the token is malformed or the local part would grow beyond the
    64 octets RFC 5321 allows.
    """
    token = token.lower()
    if not is_reply_token(token):
        raise ValueError(f"reply token {token!r} is not {TOKEN_LENGTH} base32 characters (a-z2-7)")
    if not local or not domain or "@" in local or "@" in domain:
        raise ValueError("make_reply_address needs a local part and a domain without '@'")
    address_local = f"{local}{TOKEN_PREFIX}{token}"
    if len(address_local.encode()) > MAX_LOCAL_PART:
        raise ValueError(
            f"local part {local!r} is too long to carry a reply token: use at most "
            f"{MAX_LOCAL_PART - len(TOKEN_PREFIX) - TOKEN_LENGTH} characters"
        )
    return f"{address_local}@{domain}"


def find_reply_token(addresses: Iterable[str]) -> str | None:
    """The first reply token found in ``addresses`` (any case, any display-name form), or None."""
    for address in addresses:
        if not address:
            continue
        match = _FIND.search(address)
        if match:
            return match.group(1).lower()
    return None


def find_reply_token_in_text(text: str) -> str | None:
    """The first reply token found anywhere in ``text`` (e.g. the returned headers of a bounce)."""
    match = _FIND.search(text)
    return match.group(1).lower() if match else None

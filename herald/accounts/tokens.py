"""API token format: ``hrd_<prefix>_<secret>``. The prefix finds the row; only a hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hrd_"  # noqa: S105 (a public marker, not a secret)
PREFIX_BYTES = 6  # 12 hex characters: enough to never collide in practice, short to display
SECRET_BYTES = 24  # 192 bits of entropy: a plain SHA-256 is then a sound at-rest hash


def new_token() -> tuple[str, str, str]:
    """A fresh token as ``(plaintext, prefix, digest)``."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secret}"
    return plaintext, prefix, digest(plaintext)


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_prefix(plaintext: str) -> str | None:
    """The prefix of a well-formed token, or None."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = plaintext[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or len(prefix) != PREFIX_BYTES * 2:
        return None
    return prefix


def matches(plaintext: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(plaintext), stored_digest)

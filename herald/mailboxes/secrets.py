"""Mailbox secrets (SMTP and IMAP passwords, DKIM private keys) encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived by HKDF-SHA256 from
``HERALD_ENCRYPTION_KEY`` when it is set, else from ``HERALD_SECRET_KEY`` (Django's
``SECRET_KEY``). Setting ``HERALD_ENCRYPTION_KEY`` lets the secret key (sessions, signed links)
be rotated without touching the mailboxes.

If the key they were encrypted with is gone (the secret key changed), the stored secrets cannot
be read: reading one raises ``SecretUnreadableError``, which names the mailbox and the secret to
enter again; pages and the connection test show that message instead of failing.

Pure apart from reading the settings: no database, no network.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Bound into the derived key: the same secret key gives unrelated keys for other purposes.
HKDF_INFO = b"herald mailbox secrets v1"


class SecretUnreadableError(Exception):
    """A stored secret that the current key cannot decrypt; the message says what to re-enter."""


@functools.cache
def _fernet(source: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        source.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _current() -> Fernet:
    # Read on each call (cached per key text): tests and key changes take effect at once.
    return _fernet(getattr(settings, "ENCRYPTION_KEY", "") or settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    """The Fernet token (ASCII text) of ``plaintext``; an empty secret stays empty."""
    if not plaintext:
        return ""
    return _current().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str, *, what: str) -> str:
    """The plaintext of ``token`` (empty for an empty token). ``what`` names the secret for the
    error, e.g. "the SMTP password of mailbox Billing"."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretUnreadableError(
            f"{what} cannot be decrypted: the encryption key changed (HERALD_ENCRYPTION_KEY, or "
            "HERALD_SECRET_KEY when that is not set). Enter it again, or restore the old key."
        ) from None


def readable(token: str) -> bool:
    """Whether ``token`` decrypts with the current key (an empty token is readable)."""
    try:
        decrypt(token, what="secret")
    except SecretUnreadableError:
        return False
    return True

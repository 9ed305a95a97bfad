"""Email address normalization and syntax checks (pure: no database, no network).

``validate`` agrees with email-validator (no DNS) on every input, but answers the common case
— a plain ASCII local part — without calling it: the local part is matched with email-validator's
own dot-atom rule and the domain's verdict is cached per distinct domain, since a contact list
holds millions of addresses over a few thousand domains. Everything else goes to email-validator.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

EMAIL_MAX_LENGTH = 254  # RFC 3696 errata 1690, as email-validator checks it
# RFC 5322 3.2.3 dot-atom-text with ASCII atext: the same rule email-validator applies first.
_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_DOT_ATOM = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*")
# Characters str.strip() would remove; only these count as surrounding whitespace.
_WHITESPACE = " \t\r\n\f\v\u00a0\u200b\ufeff"


@lru_cache(maxsize=65536)
def _domain(domain: str) -> tuple[str, str | None]:
    """(IDNA ASCII domain, None) or ("", error) for the part after the @-sign."""
    try:
        result = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError as exc:
        return "", str(exc)
    return result.ascii_domain, None


def _slow(address: str) -> tuple[str, str | None]:
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return address, str(exc)
    return f"{result.ascii_local_part or result.local_part}@{result.ascii_domain}", None


def validate(raw: str) -> tuple[str, str | None]:
    """Normalizes and checks one address: ``(normalized, None)`` or ``(trimmed, error message)``.

    Normalized means: surrounding whitespace removed, the domain in IDNA ASCII lower case, the
    local part kept as written (RFC 5321 lets a server tell ``John`` from ``john``).
    """
    address = raw.strip(_WHITESPACE)
    if not address:
        return "", "The address is empty."
    local, at, domain = address.rpartition("@")
    if at and _DOT_ATOM.fullmatch(local) and len(address) <= EMAIL_MAX_LENGTH:
        ascii_domain, error = _domain(domain)
        if error is None:
            normalized = f"{local}@{ascii_domain}"
            if len(normalized) <= EMAIL_MAX_LENGTH:
                return normalized, None
        # A bad domain or an IDNA form over the length limit: email-validator says why.
    return _slow(address)


def normalize(raw: str) -> str:
    """The normalized form of an address, or the trimmed input when it is not valid."""
    return validate(raw)[0]


def key(address: str) -> str:
    """The form addresses are compared in (search, duplicates, suppression): all lower case."""
    return address.lower()


def domain_of(address: str) -> str:
    """The part after the last @-sign, lower case ("" if there is none)."""
    return address.rpartition("@")[2].lower()


HASH_PREFIX = "sha256:"


def hashed(address: str) -> str:
    """The suppression value that stands for ``address`` once its contact was erased
    (``herald.contacts.erasure``): never the address itself, yet found by it."""
    return HASH_PREFIX + hashlib.sha256(address.strip().lower().encode()).hexdigest()

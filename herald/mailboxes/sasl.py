"""The SASL strings of OAuth 2.0 logins, for SMTP and IMAP alike: XOAUTH2 (Google's and
Microsoft's mechanism) and OAUTHBEARER (RFC 7628), and the server's reasons when it refuses a
token. Pure: no I/O."""

from __future__ import annotations

import base64
import json


def xoauth2(user: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial response (Google's and Microsoft's mechanism), not base64'd."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(user: str, token: str) -> bytes:
    """The SASL OAUTHBEARER initial response (RFC 7628 3.1), not base64'd."""
    escaped = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={escaped},\x01auth=Bearer {token}\x01\x01".encode()


def sasl_error(challenge: bytes) -> str:
    """The server's words when it refused a token (a base64 JSON challenge, RFC 7628 3.2.2)."""
    try:
        data = json.loads(base64.b64decode(challenge))
    except ValueError:
        return challenge.decode(errors="replace")[:300]
    if isinstance(data, dict):
        return ", ".join(f"{k}={v}" for k, v in data.items())[:300]
    return str(data)[:300]

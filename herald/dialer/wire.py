"""A message's wire form: what SMTP carries and what DKIM signs must be the same bytes.

Pure. SMTP lines end in CRLF (RFC 5321 2.3.8); a bare CR or LF is turned into CRLF (a bare LF
is also what SMTP smuggling hides behind), and a message ends with CRLF before the final dot.
The DKIM signer signs this form and the transport sends it, so a receiver hashes what was signed.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


class WireMessage(bytes):
    """Bytes known to be in wire form: ``wire_form`` returns them as they are, without scanning
    them again (the signer's output goes to the transport that way)."""

    __slots__ = ()


class RelaxedWireMessage(WireMessage):
    """A ``WireMessage`` whose body DKIM's relaxed body canonicalization (RFC 6376 3.4.4) leaves
    unchanged: no tab, no two spaces in a row, no space at a line end, no empty line at the end.
    ``herald.messaging.writer`` writes messages so, and the signer then hashes the body as it
    is instead of scanning 20 KB for whitespace (the tests hold the writer to it)."""

    __slots__ = ()


def wire_form(message: bytes) -> WireMessage:
    """``message`` with every line ending a CRLF and a final CRLF (scanned once: a message that
    is a ``WireMessage`` already is returned as it is)."""
    if isinstance(message, WireMessage):
        return message
    crlf = message.count(b"\r\n")
    if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
        message = _LINE_END.sub(b"\r\n", message)
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return WireMessage(message)

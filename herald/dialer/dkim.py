"""DKIM signing (RFC 6376), relaxed/relaxed, rsa-sha256 (RSA-2048) and ed25519-sha256 (RFC 8463):
key generation, the DNS TXT record users publish, and a signer lean enough for the dialer's
per-message budget.

Pure: no database, no network, no clock read (the signing time ``t=`` is an argument). The raw
signatures come from ``cryptography`` (OpenSSL): RSA-2048 in about 0.25 ms against about 7 ms for
dkimpy's pure-Python RSA; canonicalization here is a few byte-level passes over the body instead
of per-line work, and none at all for the MIME writer's messages (``RelaxedWireMessage``), whose
bodies relaxed canonicalization leaves unchanged. dkimpy's verifier is the judge of correctness
in the tests.

The worker (issue 5) builds one ``DkimSigner`` per mailbox and batch, then calls ``sign()`` on
each rendered message of the batch just before handing the batch to the transport; the signer
signs the message's wire form (``wire.wire_form``), the very bytes the transport sends.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from herald.dialer.wire import RelaxedWireMessage, WireMessage, wire_form

KeyKind = Literal["rsa", "ed25519"]
RSA_BITS = 2048  # what receivers expect today (RFC 8301: at least 1024, 2048 recommended)
MIN_RSA_BITS = 1024  # RFC 8301 3.2: verifiers must reject smaller keys
# Headers signed when present. The ones also in OVERSIGNED are listed once more than they
# occur, so that nobody can add a second From or Subject without breaking the signature.
SIGNED_HEADERS = (
    "from",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)
OVERSIGNED = frozenset({"from", "reply-to", "to", "subject", "list-unsubscribe"})
FOLD_AT = 76  # keep header lines short (RFC 5322 2.1.1 recommends 78)
MAX_HEADER_SETS = 64  # folded h= lists a signer keeps (one per distinct set of headers)
_PKCS1V15, _SHA256 = padding.PKCS1v15(), hashes.SHA256()

_WSP_RUN = re.compile(rb"[ \t]+")
_FIELD_START = re.compile(rb"\r\n(?![ \t])")
_SPACES = re.compile(rb"  +")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class DkimError(ValueError):
    """A key, domain or message the signer cannot use; the message says what to fix."""


def generate_key(kind: KeyKind) -> str:
    """A new private key as PKCS#8 PEM text: RSA-2048 or Ed25519."""
    key: PrivateKey
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise DkimError(f"unknown DKIM key type {kind!r}: use rsa or ed25519")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_key(text: str | bytes) -> PrivateKey:
    """Reads a pasted private key: PEM (PKCS#8, or PKCS#1 "RSA PRIVATE KEY"), or an Ed25519 key
    as the base64 of its 32-byte seed (what dkimpy's ``dknewkey`` writes)."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = data.strip()
    if not data:
        raise DkimError("the DKIM private key is empty: paste a PEM key or generate one")
    if b"-----BEGIN" in data:
        if b"ENCRYPTED" in data:
            raise DkimError("the DKIM private key is encrypted: paste it without a passphrase")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise DkimError(f"the DKIM private key is not a readable PEM key ({exc})") from None
    else:
        try:
            seed = base64.b64decode(data, validate=True)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise DkimError(
                "the DKIM private key is neither PEM (-----BEGIN PRIVATE KEY-----) nor the "
                "base64 of a 32-byte Ed25519 seed"
            )
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise DkimError(
                f"the RSA key has {key.key_size} bits: receivers reject DKIM keys under "
                f"{MIN_RSA_BITS} bits; generate a {RSA_BITS}-bit one"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise DkimError("DKIM keys are RSA or Ed25519: this PEM holds another kind of key")


def key_kind(key: PrivateKey) -> KeyKind:
    """``"rsa"`` or ``"ed25519"``."""
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"


def dns_record(private_key: str | bytes | PrivateKey) -> str:
    """The TXT record value to publish at ``dns_name(selector, domain)``, e.g.
    ``v=DKIM1; k=ed25519; p=...`` (the public half of the key)."""
    key = private_key if isinstance(private_key, PrivateKey) else load_key(private_key)
    if isinstance(key, rsa.RSAPrivateKey):
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"


def dns_name(selector: str, domain: str) -> str:
    """Where the record goes: ``selector._domainkey.domain``."""
    return f"{selector}._domainkey.{domain}"


def zone_file_strings(record: str) -> str:
    """The record as quoted strings of at most 255 characters (one TXT string's limit, RFC 1035
    3.3.14), as DNS zone files and most DNS providers' forms want a 2048-bit key."""
    return " ".join(f'"{record[i : i + 255]}"' for i in range(0, len(record), 255))


def canonical_body(body: bytes) -> bytes:
    """The relaxed body canonicalization (RFC 6376 3.4.4) of a CRLF-clean body: whitespace runs
    become one space, whitespace at line ends and empty lines at the end go; a non-empty body
    ends with one CRLF, an empty one is empty."""
    # Each test is one C-level scan; the regular expressions run only when there is work.
    if b"\t" in body:
        body = _WSP_RUN.sub(b" ", body)
    elif b"  " in body:
        body = _SPACES.sub(b" ", body)
    if b" \r\n" in body:
        body = body.replace(b" \r\n", b"\r\n")
    if body.endswith(b"\r\n") and not body.endswith(b"\r\n\r\n") and body != b"\r\n":
        return body  # already ends with one line end: no copy
    body = body.rstrip(b"\r\n")  # only CRLF pairs here (wire form): trailing empty lines go
    return body + b"\r\n" if body else b""


def canonical_header(field: bytes) -> bytes:
    """The relaxed header canonicalization (RFC 6376 3.4.2) of one field (its lines joined with
    CRLF, without the final CRLF): ``lowercase-name:value`` with the value unfolded, whitespace
    runs as one space, none around the value; ends with CRLF."""
    name, _, value = field.partition(b":")
    if b"\r\n" in value or b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b""))
    value = value.strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A wire-form message's header fields as ``(lowercase name, field bytes)`` in order, and
    its body."""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        head, body = message.removesuffix(b"\r\n"), b""
    else:
        head, body = message[:end], message[end + 4 :]
    fields: list[tuple[bytes, bytes]] = []
    if not head:
        return fields, body
    # One C-level split into fields (a line starting with whitespace continues its field).
    for field in _FIELD_START.split(head):
        name, colon, _ = field.partition(b":")
        if not colon or b"\r\n" in name:
            line = field if colon else field.split(b"\r\n", 1)[-1]
            raise DkimError(f"a header line has no colon: {line[:60]!r}")
        fields.append((name.rstrip(b" \t").lower(), field))
    return fields, body


class DkimSigner:
    """Signs messages for one domain and selector with one key (build once, sign many)."""

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key: str | bytes | PrivateKey,
        *,
        headers: Sequence[str] = SIGNED_HEADERS,
    ) -> None:
        domain = domain.strip().rstrip(".")
        if not _DOMAIN.match(domain):
            raise DkimError(f"{domain!r} is not a domain name to sign for (e.g. example.com)")
        if not _SELECTOR.match(selector):
            raise DkimError(
                f"{selector!r} is not a DKIM selector: letters, digits, hyphens and dots only"
            )
        if "from" not in {h.lower() for h in headers}:
            raise DkimError("a DKIM signature must cover the From header (RFC 6376 5.4)")
        self.key = private_key if isinstance(private_key, PrivateKey) else load_key(private_key)
        self.kind = key_kind(self.key)
        self.algorithm = "rsa-sha256" if self.kind == "rsa" else "ed25519-sha256"
        self.domain = domain
        self.selector = selector
        self.headers = tuple(h.lower().encode("ascii") for h in headers)
        # Per-message work done once here: which names to sign and oversign, the constant tags,
        # the folded h= list of each header set seen (a campaign's messages share one).
        self._plan = tuple((name, name.decode() in OVERSIGNED) for name in self.headers)
        self._wanted = frozenset(self.headers)
        self._tags = (
            b"v=1",
            b"a=" + self.algorithm.encode(),
            b"c=relaxed/relaxed",
            b"d=" + self.domain.encode("ascii"),
            b"s=" + self.selector.encode("ascii"),
        )
        self._h_lists: dict[tuple[bytes, ...], bytes] = {}

    def signature(self, message: bytes, timestamp: int | None = None) -> bytes:
        """The ``DKIM-Signature:`` header field (folded, ending with CRLF) to put on top of
        ``wire_form(message)``; ``timestamp`` (seconds since the epoch) becomes ``t=``."""
        return self._signature(wire_form(message), timestamp)

    def sign(self, message: bytes, timestamp: int | None = None) -> WireMessage:
        """``message`` in wire form with its DKIM-Signature on top: the bytes to send."""
        message = wire_form(message)
        return WireMessage(self._signature(message, timestamp) + message)

    def _signature(self, message: bytes, timestamp: int | None) -> bytes:
        fields, body = split_message(message)
        wanted = self._wanted
        by_name: dict[bytes, list[bytes]] = {}
        for name, field in fields:
            if name in wanted:
                by_name.setdefault(name, []).append(field)
        if b"from" not in by_name:
            raise DkimError("the message has no From header: DKIM signs the From address")
        # Each name in h= takes the next instance from the bottom up (RFC 6376 5.4.2); an
        # oversigned name's extra entry matches nothing and locks additions out.
        signed: list[bytes] = []
        hashed: list[bytes] = []
        for name, oversigned in self._plan:
            present = by_name.get(name)
            if present:
                for field in reversed(present):
                    signed.append(name)
                    hashed.append(canonical_header(field))
            if oversigned:
                signed.append(name)
        # The writer's messages need no canonicalization (RelaxedWireMessage): hashed as they
        # are, without three scans of the body for whitespace (~45 us of a 30 KB message).
        canonical = body if type(message) is RelaxedWireMessage else canonical_body(body)
        body_hash = base64.b64encode(hashlib.sha256(canonical).digest())
        h_list = self._h_lists.get(key := tuple(signed))
        if h_list is None:
            h_list = _fold_list(b"h=", signed)
            if len(self._h_lists) < MAX_HEADER_SETS:
                self._h_lists[key] = h_list
        tags = [*self._tags]
        if timestamp is not None:
            tags.append(b"t=%d" % timestamp)
        tags += [h_list, b"bh=" + body_hash]
        value = _fold_tags(tags) + b";\r\n b="
        hashed.append(canonical_header(b"DKIM-Signature:" + value)[:-2])
        data = b"".join(hashed)
        if isinstance(self.key, rsa.RSAPrivateKey):
            raw = self.key.sign(data, _PKCS1V15, _SHA256)
        else:
            raw = self.key.sign(hashlib.sha256(data).digest())  # RFC 8463 3: sign the hash
        b64 = base64.b64encode(raw)
        folded = b"\r\n ".join(b64[i : i + FOLD_AT - 4] for i in range(0, len(b64), FOLD_AT - 4))
        return b"DKIM-Signature:" + value + folded + b"\r\n"


def _fold_list(prefix: bytes, names: list[bytes]) -> bytes:
    """``h=a:b:c`` folded before a colon when a line would grow past FOLD_AT."""
    out = prefix
    line = len(prefix) + 1
    for i, name in enumerate(names):
        piece = name if i == 0 else b":" + name
        if line + len(piece) > FOLD_AT:
            out += b"\r\n "
            line = 1
        out += piece
        line += len(piece)
    return out


def _fold_tags(tags: list[bytes]) -> bytes:
    """``tag; tag; ...`` with a fold before a tag that would pass FOLD_AT (the leading space
    is the one after ``DKIM-Signature:``)."""
    out = b""
    line = len(b"DKIM-Signature:")
    for i, tag in enumerate(tags):
        first_line = tag.split(b"\r\n", 1)[0]
        sep = b" " if i == 0 else b"; "
        if i and line + len(sep) + len(first_line) > FOLD_AT:
            out += b";\r\n "
            line = 1
        else:
            out += sep
            line += len(sep)
        out += tag
        line = len(tag.rsplit(b"\r\n", 1)[-1]) if b"\r\n" in tag else line + len(tag)
    return out


def sign_for(mailbox: Any, message: bytes, now: datetime) -> bytes:
    """``message`` signed with the mailbox's DKIM key (``Mailbox.signs_dkim``), else as it is:
    for the one-off messages (desk answers, triggered emails); the dialer keeps its signers."""
    if not mailbox.signs_dkim:
        return message
    signer = DkimSigner(mailbox.dkim_domain, mailbox.dkim_selector, mailbox.dkim_private_key)
    return bytes(signer.sign(message, int(now.timestamp())))

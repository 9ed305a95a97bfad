"""The DKIM signer, judged by dkimpy's verifier: any message it signs verifies (relaxed/relaxed,
RSA-2048 and Ed25519), and a changed message does not."""

from __future__ import annotations

import base64
import re

import dkim as dkimpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.dialer import dkim
from herald.dialer.wire import wire_form

DOMAIN = "mail.example.org"
SELECTOR = "herald2027"


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {"rsa": dkim.generate_key("rsa"), "ed25519": dkim.generate_key("ed25519")}


def verifies(signed: bytes, private_key: str) -> bool:
    record = dkim.dns_record(private_key).encode()

    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes:
        name = name.decode() if isinstance(name, bytes) else name
        assert name.rstrip(".") == dkim.dns_name(SELECTOR, DOMAIN)
        return record

    return bool(dkimpy.verify(signed, dnsfunc=dnsfunc))


SAMPLE = (
    b"From: Herald Campaigns <news@mail.example.org>\r\n"
    b"To: Jane Doe <jane@example.com>\r\n"
    b"Subject: Your order   has shipped \r\n"
    b"Message-ID: <d-1@mail.example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Jane,\r\n\r\nYour parcel is on its way.  \r\n\r\n\r\n"
)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_a_signed_message_verifies_with_dkimpy_and_names_its_algorithm(
    keys: dict[str, str], kind: str
) -> None:
    signer = dkim.DkimSigner(DOMAIN, SELECTOR, keys[kind])
    signed = signer.sign(SAMPLE, timestamp=1_700_000_000)
    assert verifies(signed, keys[kind])
    header = signed.split(b"\r\n\r\n")[0]
    assert (b"a=rsa-sha256" if kind == "rsa" else b"a=ed25519-sha256") in header
    assert b"c=relaxed/relaxed" in header
    assert b"t=1700000000" in header
    assert all(len(line) <= 78 for line in header.split(b"\r\n")), "header lines stay short"


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m.replace(b"on its way", b"on its wag"),
        lambda m: m.replace(b"Subject: Your order", b"Subject: Your ordeR"),
        lambda m: m.replace(b"\r\n\r\nHello", b"\r\nFrom: evil@example.net\r\n\r\nHello"),
    ],
    ids=["body", "subject", "second-from"],
)
def test_a_message_changed_after_signing_no_longer_verifies(
    keys: dict[str, str], kind: str, tamper: object
) -> None:
    signed = dkim.DkimSigner(DOMAIN, SELECTOR, keys[kind]).sign(SAMPLE)
    assert verifies(signed, keys[kind])
    assert not verifies(tamper(signed), keys[kind])  # type: ignore[operator]


def test_relaxed_canonicalization_ignores_what_relays_may_change(keys: dict[str, str]) -> None:
    signed = dkim.DkimSigner(DOMAIN, SELECTOR, keys["ed25519"]).sign(SAMPLE)
    head, _, body = signed.partition(b"\r\n\r\n")
    relayed = (
        head.replace(b"Subject: Your order", b"subject:  Your\r\n\torder")
        + b"\r\n\r\n"
        + body.replace(b"Hello Jane,", b"Hello \t Jane,   ")
        + b"\r\n\r\n"
    )
    assert verifies(relayed, keys["ed25519"])


# Hypothesis: header fields (folded, repeated, 8-bit, with trailing whitespace) and bodies (long
# lines, whitespace runs, trailing empty lines, bare CR/LF line ends, empty, 8-bit).
WORDS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs"), blacklist_characters=":", max_codepoint=0x2FFF
    ),
    max_size=12,
)
SPACES = st.sampled_from([" ", "  ", "\t", " \t ", "\r\n ", "\r\n\t", "\r\n   "])


@st.composite
def header_value(draw: st.DrawFn) -> bytes:
    words = draw(st.lists(WORDS, max_size=8))
    out = draw(st.sampled_from(["", " ", "  ", "\t"]))
    for word in words:
        out += word + draw(SPACES)
    out = out.rstrip("\r\n \t") + draw(st.sampled_from(["", " ", "\t", "  "]))
    return out.encode("utf-8")


NAMES = st.sampled_from(
    [b"To", b"Cc", b"Subject", b"Reply-To", b"X-Herald", b"Date", b"Message-ID", b"List-Id"]
)
LINE = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
        max_size=80,
    ),
    st.builds(lambda n, c: c * n, st.integers(0, 2000), st.sampled_from(["x", " ", "é", "\t"])),
)
ENDINGS = st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", "\r", "  \r\n", "\t\r\n"])


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    fields = [b"From: " + draw(header_value()) + b"<news@mail.example.org>"]
    for _ in range(draw(st.integers(0, 8))):
        fields.insert(draw(st.integers(0, len(fields))), draw(NAMES) + b":" + draw(header_value()))
    body = ""
    for _ in range(draw(st.integers(0, 12))):
        body += draw(LINE) + draw(ENDINGS)
    body += draw(st.sampled_from(["", "", "\r\n", "\r\n\r\n\r\n", "last line  ", " \t"]))
    return b"\r\n".join(fields) + b"\r\n\r\n" + body.encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages(), kind=st.sampled_from(["rsa", "ed25519"]))
def test_every_message_the_signer_signs_verifies_with_dkimpy(
    keys: dict[str, str], message: bytes, kind: str
) -> None:
    signer = dkim.DkimSigner(DOMAIN, SELECTOR, keys[kind])
    signed = signer.sign(message)
    assert signed.endswith(wire_form(message))
    assert verifies(signed, keys[kind])


def test_an_empty_body_and_a_body_of_empty_lines_sign_the_same(keys: dict[str, str]) -> None:
    signer = dkim.DkimSigner(DOMAIN, SELECTOR, keys["ed25519"])
    head = b"From: a@mail.example.org\r\n\r\n"
    assert dkim.canonical_body(b"") == dkim.canonical_body(b"\r\n\r\n") == b""
    assert dkim.canonical_body(b"\r\n") == b""
    assert dkim.canonical_body(b"x\r\n") == b"x\r\n"
    for body in (b"", b"\r\n", b" \r\n\r\n"):
        assert verifies(signer.sign(head + body), keys["ed25519"])
    assert verifies(signer.sign(b"From: a@mail.example.org\r\n"), keys["ed25519"])


def test_the_dns_record_publishes_the_public_key_users_copy(keys: dict[str, str]) -> None:
    ed = dkim.dns_record(keys["ed25519"])
    assert ed.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(ed.split("p=")[1])) == 32
    rsa_record = dkim.dns_record(keys["rsa"])
    assert rsa_record.startswith("v=DKIM1; k=rsa; p=MII")
    parts = re.findall(r'"([^"]*)"', dkim.zone_file_strings(rsa_record))
    assert len(parts) == 2
    assert all(len(part) <= 255 for part in parts)
    assert "".join(parts) == rsa_record
    assert dkim.dns_name("s1", "example.org") == "s1._domainkey.example.org"


def test_a_dkimpy_style_ed25519_seed_is_accepted(keys: dict[str, str]) -> None:
    seed = base64.b64encode(bytes(range(32))).decode()
    signer = dkim.DkimSigner(DOMAIN, SELECTOR, seed)
    assert verifies(signer.sign(SAMPLE), seed)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("not a key", "neither PEM"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a readable PEM"),
    ],
)
def test_a_bad_key_is_refused_with_what_to_fix(key: str, message: str) -> None:
    with pytest.raises(dkim.DkimError, match=message):
        dkim.DkimSigner(DOMAIN, SELECTOR, key)


def _prime(bits: int, start: int) -> int:
    n = (1 << (bits - 1)) | start | 1
    while not all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13)):
        n += 2
    return n


def test_a_small_rsa_key_is_refused_because_receivers_reject_it() -> None:
    # cryptography will not generate a key this small, so build one from two 256-bit primes.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    p, q = _prime(256, 12345), _prime(256, 67891)
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    )
    small = numbers.private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(dkim.DkimError, match=r"51[12] bits: receivers reject"):
        dkim.load_key(small)


def test_a_message_without_from_cannot_be_signed(keys: dict[str, str]) -> None:
    signer = dkim.DkimSigner(DOMAIN, SELECTOR, keys["ed25519"])
    with pytest.raises(dkim.DkimError, match="no From header"):
        signer.sign(b"To: a@example.com\r\n\r\nhi\r\n")

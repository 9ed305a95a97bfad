"""`herald bench dkim [--messages N]`: DKIM signing cost per 20 KB message, one core, in-process.

Signs the same kind of message the dialer sends (headers of a campaign email, a 20 KB HTML body
with indentation and long lines) with Herald's signer and with dkimpy, Ed25519 and RSA-2048, and
prints microseconds per message for each. Each signer's first output is checked with dkimpy's
verifier, so a fast wrong signer cannot win.
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable

import dkim as dkimpy
from cryptography.hazmat.primitives import serialization

from herald.dialer import dkim
from herald.dialer.wire import wire_form

DOMAIN, SELECTOR = "mail.example.org", "bench"


def sample_message(size: int = 20_000) -> bytes:
    """A campaign-like message of about ``size`` bytes."""
    head = (
        b"From: Herald Campaigns <news@mail.example.org>\r\n"
        b"To: Jane Doe <jane.doe@example.com>\r\n"
        b"Reply-To: <news+r.abcdef123456@mail.example.org>\r\n"
        b"Subject: Your November statement is ready\r\n"
        b"Date: Sun, 22 Nov 2026 18:00:00 +0000\r\n"
        b"Message-ID: <d.123456.abcdef@mail.example.org>\r\n"
        b"List-Unsubscribe: <https://herald.example.org/u/abcdef>, <mailto:u@mail.example.org>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    row = (
        b'    <tr>\r\n      <td class="cell">Invoice n\xc2\xb0 2026-11  </td>\r\n'
        b'      <td><a href="https://herald.example.org/c/abcdef0123456789">details</a></td>\r\n'
        b"    </tr>\r\n"
    )
    body = b"<html>\r\n  <body>\r\n  <table>\r\n"
    while len(head) + len(body) < size:
        body += row
    return head + body + b"  </table>\r\n  </body>\r\n</html>\r\n"


def per_message_us(sign: Callable[[bytes], bytes], message: bytes, count: int) -> float:
    sign(message)  # warm up
    start = time.perf_counter()
    for _ in range(count):
        sign(message)
    return round(1e6 * (time.perf_counter() - start) / count, 1)


def check(signed: bytes, record: str) -> None:
    ok = dkimpy.verify(signed, dnsfunc=lambda name, timeout=5: record.encode())
    if not ok:
        raise SystemExit("a signature failed dkimpy's verification: the figures are void")


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench dkim")
    parser.add_argument("--messages", type=int, default=2000, help="messages per measurement")
    args = parser.parse_args(argv)
    message = wire_form(sample_message())
    ed_pem, rsa_pem = dkim.generate_key("ed25519"), dkim.generate_key("rsa")
    ed_key, rsa_key = dkim.load_key(ed_pem), dkim.load_key(rsa_pem)
    ours = {
        "ed25519": dkim.DkimSigner(DOMAIN, SELECTOR, ed_key),
        "rsa": dkim.DkimSigner(DOMAIN, SELECTOR, rsa_key),
    }
    # dkimpy's own key formats: the base64 Ed25519 seed, PKCS#1 PEM for RSA.
    ed_seed = base64.b64encode(
        ed_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )
    rsa_pkcs1 = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    signers: dict[str, tuple[Callable[[bytes], bytes], str]] = {
        "ed25519_us": (ours["ed25519"].sign, dkim.dns_record(ed_key)),
        "rsa_us": (ours["rsa"].sign, dkim.dns_record(rsa_key)),
        "dkimpy_ed25519_us": (
            lambda m: (
                dkimpy.sign(
                    m,
                    SELECTOR.encode(),
                    DOMAIN.encode(),
                    ed_seed,
                    canonicalize=(b"relaxed", b"relaxed"),
                    signature_algorithm=b"ed25519-sha256",
                )
                + m
            ),
            dkim.dns_record(ed_key),
        ),
        "dkimpy_rsa_us": (
            lambda m: (
                dkimpy.sign(
                    m, SELECTOR.encode(), DOMAIN.encode(), rsa_pkcs1, canonicalize=(b"relaxed",) * 2
                )
                + m
            ),
            dkim.dns_record(rsa_key),
        ),
    }
    figures: dict[str, object] = {"message_bytes": len(message)}
    for name, (sign, record) in signers.items():
        check(sign(message), record)
        # dkimpy's RSA is ~30x slower: fewer rounds keep the bench short, per-message figures.
        count = max(20, args.messages // 20) if name == "dkimpy_rsa_us" else args.messages
        figures[name] = per_message_us(sign, message, count)
    return figures

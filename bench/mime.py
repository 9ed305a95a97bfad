"""`herald bench mime [--messages N]`: the cost of one campaign message's MIME form and its DKIM
signature, per 20 KB message, one core, in-process.

A 15 KB HTML template laid out as email builders write it (nested tables, every line indented)
with 10 variables and 5 tracked links is rendered for one contact (the text part is generated
from the HTML), then written as the dialer sends it — multipart/alternative, campaign headers
(List-Unsubscribe, Precedence, ...) — three ways: the standard library's ``EmailMessage`` as
``build_message`` builds it and ``as_bytes()`` serializes it, the older ``email.mime`` classes,
and Herald's direct writer (``herald/messaging/writer.py``). The writer's output is then signed
with Herald's DKIM signer, Ed25519 and RSA-2048; the same signature over the standard library's
bytes shows what a canonicalization-invariant body saves.

So that a fast wrong writer cannot win, the writer's message is first parsed by the standard
library and compared with ``build_message``'s (headers, parts, decoded contents), and each
signature is checked with dkimpy's verifier.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

import dkim as dkimpy

from bench.render import signing_rewrite
from herald.dialer import dkim
from herald.dialer.wire import wire_form
from herald.messaging.compiling import TemplateSource, compile_source
from herald.messaging.mime import build_message, message_bytes
from herald.messaging.rendering import Links, RenderedMessage, render
from herald.messaging.writer import write_message

DOMAIN, SELECTOR = "mail.example.org", "bench"
TARGET_HTML_BYTES = 15_000

HEAD = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${company_name} news</title>
  </head>
  <body style="margin: 0; padding: 0; background: #f4f4f4;">
    <table role="presentation" width="100%" cellpadding="0" cellspacing="0">
      <tr>
        <td align="center">
          <table role="presentation" width="600" cellpadding="0" cellspacing="0">
            <tr>
              <td style="padding: 24px; font-family: Arial, sans-serif;">
                <h1>Hello ${first_name|Customer} ${last_name}</h1>
                <p>Your account ${external_id} at ${company|your company} is ready.</p>
                <p>
                  <a href="https://shop.example.com/offers?c=${external_id}">See your offers</a>
                </p>
              </td>
            </tr>
"""
SECTION = """            <tr>
              <td style="padding: 12px 24px; font-family: Arial, sans-serif;">
                <h2>News item {n} — what's new this month</h2>
                <p>
                  Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor
                  incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis
                  nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.
                </p>
              </td>
            </tr>
"""
TAIL = """            <tr>
              <td style="padding: 24px; font-family: Arial, sans-serif; font-size: 12px;">
                <p>Questions? Call ${company_phone} or write to ${company_email}.</p>
                <p>
                  <a href="https://www.example.com/blog">Blog</a> ·
                  <a href="https://www.example.com/help">Help</a> ·
                  <a href="https://www.example.com/app">App</a>
                </p>
                <p>
                  ${company_name}, ${company_address}. Today is ${today}.
                  <a href="${unsubscribe_url}">Unsubscribe</a> (${email})
                </p>
              </td>
            </tr>
          </table>
        </td>
      </tr>
    </table>
  </body>
</html>
"""
CONTACT = {
    "first_name": "Élodie",
    "last_name": "Marchand",
    "company": "Boulangerie Marchand",
    "email": "elodie.marchand@example.com",
    "external_id": "C000042",
}
ACCOUNT = {
    "company_name": "Acme",
    "company_address": "1 Main St",
    "company_email": "hi@acme.example",
    "company_phone": "+33 1 00 00 00 00",
}
HEADERS = {
    "List-Unsubscribe": (
        "<https://t.example.com/u/42/eyJkIjo0MiwiYyI6N30.c2lnbmF0dXJl>, "
        "<mailto:unsubscribe+d42@mail.example.org?subject=unsubscribe>"
    ),
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "Precedence": "bulk",
    "X-Auto-Response-Suppress": "OOF, AutoReply",
    "Feedback-ID": "c7:campaign:herald",
}
ADDRESSES = {
    "from_address": "news@mail.example.org",
    "from_name": "Acme Newsletters",
    "to": "elodie.marchand@example.com",
    "reply_to": "news+r.d42.abcdef@mail.example.org",
    "message_id": "<d.42.abcdef@mail.example.org>",
    "date": datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
    "headers": HEADERS,
}


def rendered_message() -> RenderedMessage:
    """The benchmark's message: the indented template rendered for one contact."""
    sections, n = [], 0
    while len(HEAD) + len(TAIL) + sum(map(len, sections)) < TARGET_HTML_BYTES:
        n += 1
        sections.append(SECTION.replace("{n}", str(n)))
    template = compile_source(
        TemplateSource(
            subject="${first_name|Hello}, your November news from ${company_name}",
            html=HEAD + "".join(sections) + TAIL,
        ),
        "bench",
    )
    return render(template, CONTACT, ACCOUNT, Links.preview(), rewrite_link=signing_rewrite(42))


COMPAT32_SMTP = email.policy.compat32.clone(linesep="\r\n")


def stdlib_email_mime(message: RenderedMessage) -> bytes:
    """The same message with the older ``email.mime`` classes (compat32 policy)."""
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(message.subject, "utf-8")
    msg["From"] = f"{ADDRESSES['from_name']} <{ADDRESSES['from_address']}>"
    msg["To"] = ADDRESSES["to"]
    msg["Reply-To"] = ADDRESSES["reply_to"]
    msg["Date"] = format_datetime(ADDRESSES["date"])  # type: ignore[arg-type]
    msg["Message-ID"] = ADDRESSES["message_id"]
    for name, value in HEADERS.items():
        msg[name] = value
    msg.attach(MIMEText(message.text, "plain", "utf-8"))
    msg.attach(MIMEText(message.html, "html", "utf-8"))
    return msg.as_bytes(policy=COMPAT32_SMTP)


def parts(data: bytes) -> list[object]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    headers = [(k, str(v)) for k, v in msg.items() if k not in {"Content-Type", "List-Unsubscribe"}]
    return [headers] + [
        (p.get_content_type(), None if p.is_multipart() else p.get_content()) for p in msg.walk()
    ]


def per_message_us(work: Callable[[], object], count: int) -> float:
    work()  # warm up
    started = time.process_time()  # CPU time of this thread: one core's cost
    for _ in range(count):
        work()
    return round(1e6 * (time.process_time() - started) / count, 1)


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench mime")
    parser.add_argument("--messages", type=int, default=2000, help="messages per measurement")
    args = parser.parse_args(argv)
    count = args.messages
    message = rendered_message()

    def standard() -> bytes:
        return message_bytes(build_message(message, **ADDRESSES))  # type: ignore[arg-type]

    def writer() -> bytes:
        return write_message(message, **ADDRESSES)  # type: ignore[arg-type]

    written, reference = writer(), standard()
    if parts(written) != parts(reference):
        raise SystemExit("the writer's message does not read like build_message's: void figures")

    keys = {"ed25519": dkim.generate_key("ed25519"), "rsa": dkim.generate_key("rsa")}
    signers = {kind: dkim.DkimSigner(DOMAIN, SELECTOR, key) for kind, key in keys.items()}
    for kind, signer in signers.items():
        record = dkim.dns_record(keys[kind]).encode()
        for data in (written, reference):
            if not dkimpy.verify(signer.sign(data), dnsfunc=lambda name, timeout=5, r=record: r):
                raise SystemExit(f"a {kind} signature failed dkimpy's verification: void figures")
    reference_wire = wire_form(reference)  # as the transport would take it: scanned once

    # Fewer rounds for the slow paths keep the bench short; the figures are per message.
    slow = max(50, count // 10)
    ed, rsa = signers["ed25519"], signers["rsa"]
    return {
        "message_bytes": len(written),
        "html_bytes": len(message.html.encode()),
        "text_bytes": len(message.text.encode()),
        "stdlib_as_bytes_us": per_message_us(standard, slow),
        "stdlib_email_mime_us": per_message_us(lambda: stdlib_email_mime(message), slow),
        "writer_us": per_message_us(writer, count),
        "sign_ed25519_us": per_message_us(lambda: ed.sign(written), count),
        "sign_rsa_us": per_message_us(lambda: rsa.sign(written), max(50, count // 4)),
        "write_and_sign_ed25519_us": per_message_us(lambda: ed.sign(writer()), count),
        "sign_ed25519_stdlib_output_us": per_message_us(lambda: ed.sign(reference_wire), count),
    }

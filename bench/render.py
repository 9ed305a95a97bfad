"""`herald bench render [--seconds S] [--contacts N]`: personalized renders per second, one core.

A 15 KB newsletter (HTML, 10 variables, 5 links, one with a contact variable in its URL) is
compiled once, as a saved version is; then each render fills subject, HTML and text parts for
the next contact and passes the 5 links through an HMAC-signing rewrite as click tracking will.
No MIME, no SMTP, no database: the figure is the rendering engine's own.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import time

from herald.messaging.compiling import TemplateSource, compile_source
from herald.messaging.rendering import Links, render

TARGET_HTML_BYTES = 15_000
SECRET = b"bench-secret-key-for-link-signing"

HEAD = """<html><head><style>
body { font-family: Arial, sans-serif; color: #222; } h1 { color: #2457c5; font-size: 24px; }
p { line-height: 1.5; margin: 0 0 12px; } .cta { background: #2457c5; color: #fff; padding: 8px; }
td { padding: 6px; border-bottom: 1px solid #ddd; }
</style></head><body>
<h1>Hello ${first_name|Customer} ${last_name}</h1>
<p>Your account ${external_id} at ${company|your company} is ready, ${first_name|Customer}.</p>
<p><a class="cta" href="https://shop.example.com/offers?c=${external_id}">See your offers</a></p>
"""
SECTION = """<table width="100%"><tr><td><h2>News item {n}</h2>
<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut
labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris
nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate.</p>
</td></tr></table>
"""
TAIL = """<p>Questions? Call ${company_phone} or write to ${company_email}.</p>
<p><a href="https://www.example.com/blog">Blog</a> · <a href="https://www.example.com/help">Help</a>
· <a href="https://www.example.com/app">App</a> · <a href="https://www.example.com/shop">Shop</a></p>
<p>${company_name}, ${company_address}. Today is ${today}.
<a href="${unsubscribe_url}">Unsubscribe</a> ${email}</p></body></html>"""


def newsletter() -> str:
    """The benchmark's HTML template, padded with news sections to about 15 KB."""
    sections = []
    n = 0
    while len(HEAD) + len(TAIL) + sum(map(len, sections)) < TARGET_HTML_BYTES:
        n += 1
        sections.append(SECTION.replace("{n}", str(n)))
    return HEAD + "".join(sections) + TAIL


def signing_rewrite(message_id: int):
    """A realistic click-tracking rewrite: an HMAC-signed redirect URL per link."""

    def rewrite(index: int, url: str) -> str:
        payload = f"{message_id}.{index}".encode()
        signature = hmac.new(SECRET, payload + url.encode(), hashlib.sha256).digest()[:12]
        token = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        return f"https://t.example.com/c/{message_id}/{index}/{token}"

    return rewrite


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench render")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--contacts", type=int, default=1000)
    args = parser.parse_args(argv)

    html = newsletter()
    template = compile_source(
        TemplateSource(subject="${first_name|Hello}, your ${company|} news", html=html), "bench"
    )
    contacts = [
        {
            "first_name": f"Ana{i}",
            "last_name": "Rossi" if i % 2 else "Bianchi",
            "company": f"Firm {i}" if i % 3 else "",
            "email": f"ana{i}@example.com",
            "external_id": f"C{i:06d}",
        }
        for i in range(args.contacts)
    ]
    account = {
        "company_name": "Acme",
        "company_address": "1 Main St",
        "company_email": "hi@acme.example",
        "company_phone": "+39 06 000",
    }
    links = Links.preview()
    variables = len(template.variables)
    for i in range(200):  # warm-up
        render(
            template, contacts[i % len(contacts)], account, links, rewrite_link=signing_rewrite(i)
        )
    renders = 0
    started = time.process_time()  # CPU time of this one thread: one core's throughput
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            contact = contacts[renders % len(contacts)]
            render(template, contact, account, links, rewrite_link=signing_rewrite(renders))
            renders += 1
    cpu = time.process_time() - started
    sample = render(template, contacts[0], account, links, rewrite_link=signing_rewrite(0))
    return {
        "renders_per_s": round(renders / cpu),
        "us_per_render": round(cpu / renders * 1e6, 1),
        "renders": renders,
        "template_html_bytes": len(html.encode()),
        "variables": variables,
        "links_rewritten": sample.html.count("https://t.example.com/c/"),
        "html_out_bytes": len(sample.html.encode()),
    }

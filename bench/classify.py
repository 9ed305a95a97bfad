"""`herald bench classify [--rounds N]`: classify() throughput over every corpus file, one core.

Reads all files of ../shared/corpora into memory first (the reply items are bodies only, so each
gets a minimal reply header block in front, making classify() do the whole reply path), then
times classify() alone in this process. Prints msgs_per_s (target: 500 or more).
"""

from __future__ import annotations

import argparse
import time

from _common import corpus_files

from herald.inbound.classify import classify

REPLY_HEADERS = (
    b"From: Jane <jane@example.com>\r\nTo: campaigns@example.org\r\nSubject: Re: Your order\r\n"
    b"In-Reply-To: <delivery-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
)


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench classify")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the corpora")
    args = parser.parse_args(argv)
    files = corpus_files()
    messages = [
        (REPLY_HEADERS if p.parent.name == "replies" else b"") + p.read_bytes() for p in files
    ]
    classify(messages[0])  # warm the regular expressions
    count = 0
    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw in messages:
            classify(raw)
            count += 1
    elapsed = time.perf_counter() - start
    return {
        "files": len(messages),
        "rounds": args.rounds,
        "msgs_per_s": round(count / elapsed, 1),
        "mean_ms": round(1000 * elapsed / count, 3),
    }

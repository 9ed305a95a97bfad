"""`herald bench ingest [--messages N] [--db sqlite|postgres]`: inbound ingestion throughput.

Starts a throwaway Dovecot (tests/dovecot.py's server, on free loopback ports), APPENDs N
messages to its INBOX — the files of ../shared/corpora in turn (bounces of ~70 MTAs, replies in
several languages), each with a Message-ID of its own so that none is a duplicate — then, in a
child process on a fresh database, points a receiving mailbox at it and times the worker's
ingestion loop until every message is stored raw, classified and processed (bounces matched and
recorded, replies and new mail turned into contacts and conversations). Prints msgs_per_s
(target: 100 or more) with the child's CPU time per message.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import re
import sys
import time

from _common import REPO, corpus_files, fresh_database, herald, peak_rss_mb

REPLY_HEAD = (
    "From: Person {n} <person{n}@example.com>\r\nTo: support@bench.example\r\n"
    "Subject: Re: Your order {n}\r\nIn-Reply-To: <order-{n}@shop.example>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
)
_MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*\r?\n([ \t][^\r\n]*\r?\n)*", re.IGNORECASE | re.M)


def corpus_messages(count: int) -> list[bytes]:
    """``count`` messages from the corpora, in turn, each with a unique Message-ID."""
    files = corpus_files()
    out = []
    for n in range(count):
        path = files[n % len(files)]
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if path.parent.name == "replies":
            raw = REPLY_HEAD.format(n=n).encode() + b"\r\n" + raw
        end = raw.find(b"\r\n\r\n")
        head, body = (raw[:end], raw[end:]) if end >= 0 else (raw, b"")
        head = _MESSAGE_ID.sub(b"", head + b"\r\n").rstrip(b"\r\n")
        out.append(f"Message-ID: <bench-{n}@bench.example>\r\n".encode() + head + body)
    return out


def append_all(port: int, user: str, password: str, messages: list[bytes]) -> float:
    start = time.perf_counter()
    client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        client.login(user, password)
        for raw in messages:
            status, data = client.append("INBOX", "", None, raw)
            if status != "OK":
                raise SystemExit(f"APPEND failed: {data}")
    finally:
        client.logout()
    return time.perf_counter() - start


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench ingest")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--user", default="", help=argparse.SUPPRESS)
    parser.add_argument("--password", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return ingest_child(args.port, args.user, args.password, args.messages)

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.dovecot import DovecotServer

    messages = corpus_messages(args.messages)
    server = DovecotServer()
    try:
        append_seconds = append_all(server.port, server.user, server.password, messages)
        with fresh_database(args.db) as env:
            herald(["migrate", "--verbosity", "0"], env)
            child = herald(
                [
                    "bench",
                    "ingest",
                    "--child",
                    "--port",
                    str(server.port),
                    "--user",
                    server.user,
                    "--password",
                    server.password,
                    "--messages",
                    str(args.messages + 1),  # the server's own "Welcome" message too
                ],
                env,
            )
    finally:
        server.stop()
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return {"db": args.db, "append_s": round(append_seconds, 2), **figures}


def ingest_child(port: int, user: str, password: str, expected: int) -> dict:
    """Runs in the child, on the fresh database: the worker's loop until all is processed."""
    from django.db.models import Count

    from herald.audit.actors import Actor
    from herald.inbound import ingest
    from herald.inbound.models import InboundMessage
    from herald.mailboxes.actions import do_save_mailbox

    do_save_mailbox(
        Actor.system("bench"),
        None,
        {
            "name": "Bench",
            "from_address": "support@bench.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": 2,
            "smtp_security": "none",
            "receive_enabled": True,
            "imap_host": "127.0.0.1",
            "imap_port": port,
            "imap_security": "none",
            "imap_username": user,
        },
        secrets={"imap_password": password},
    )
    # The step's wait for IDLE news is idle time, not work: kept short so it does not count.
    ingest.IDLE_WAIT_SECONDS = 0.01
    ingestor = ingest.Ingestor()
    cpu0, start = time.process_time(), time.perf_counter()
    try:
        while True:
            more = ingestor.step()
            if more:
                continue
            done = InboundMessage.objects.exclude(status="received").count()
            if done >= expected:
                break
            if time.perf_counter() - start > 600:
                raise SystemExit(f"only {done} of {expected} messages ingested in 10 minutes")
    finally:
        ingestor.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    kinds = dict(
        InboundMessage.objects.values_list("kind").annotate(n=Count("id")).order_by("kind")
    )
    return {
        "messages": expected,
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(expected / elapsed, 1),
        "cpu_ms_per_msg": round(1000 * cpu / expected, 2),
        "quarantined": InboundMessage.objects.filter(status="quarantined").count(),
        "kinds": kinds,
        "peak_rss_mb": peak_rss_mb(),
    }

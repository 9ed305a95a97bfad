"""`herald bench smtp [--connections N] [--messages M] [--client herald|smtplib|aiosmtplib]
[--server sink|aiosmtpd] [--size BYTES] [--batch B]`: SMTP sending throughput.

Sends M messages of about BYTES (15 KB, the campaign bench's template size) to Postfix's
``smtp-sink`` on 127.0.0.1 (installed from Debian when missing, started alone on a free port) or
to an in-process aiosmtpd, over N connections, and prints messages per second with the client's
CPU time per message. ``--client`` runs the same load through smtplib (one thread per connection)
or aiosmtplib (one task per connection) to compare with Herald's pipelined client, which gets the
messages in batches of B as the dialer hands them over. Every message must be accepted, or the
figures are void.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

from herald.dialer.smtp import SmtpConfig, SmtpTransport
from herald.dialer.transport import Envelope

SENDER = "news@mail.example.org"


def _sink_module():  # type: ignore[no-untyped-def]
    # bench/ is not a package: load the sibling helper by path, as `herald bench` loads us.
    spec = spec_from_file_location("herald_bench_sink", Path(__file__).with_name("_sink.py"))
    if spec is None or spec.loader is None:
        raise SystemExit("bench/_sink.py cannot be loaded")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_message(n: int, size: int) -> bytes:
    head = (
        f"From: Herald <{SENDER}>\r\nTo: <user{n}@example.com>\r\nSubject: Offer {n}\r\n"
        f"Message-ID: <{n}.bench@mail.example.org>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"<p>Dear customer, this is line of the campaign body with a link.</p>\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


@contextmanager
def aiosmtpd_server() -> Iterator[tuple[int, None]]:
    from aiosmtpd.smtp import SMTP

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            return "250 OK"

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> asyncio.Server:
        return await loop.create_server(lambda: SMTP(Sink()), "127.0.0.1", 0)

    server = asyncio.run_coroutine_threadsafe(start(), loop).result()
    try:
        yield server.sockets[0].getsockname()[1], None
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def herald_client(port: int, envelopes: list[Envelope], connections: int, batch: int) -> int:
    config = SmtpConfig("127.0.0.1", port, "none", max_connections=connections, timeout=30)
    sent = 0
    with SmtpTransport(config) as transport:
        for start in range(0, len(envelopes), batch):
            sent += sum(o.sent for o in transport.send(envelopes[start : start + batch]))
    return sent


def smtplib_client(port: int, envelopes: list[Envelope], connections: int, batch: int) -> int:
    counts = [0] * connections

    def lane(k: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo("bench.example.org")
            for e in envelopes[k::connections]:
                client.sendmail(e.mail_from, list(e.recipients), e.message)
                counts[k] += 1

    threads = [threading.Thread(target=lane, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def aiosmtplib_client(port: int, envelopes: list[Envelope], connections: int, batch: int) -> int:
    import aiosmtplib

    async def lane(k: int) -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await client.connect()
        count = 0
        for e in envelopes[k::connections]:
            await client.sendmail(e.mail_from, list(e.recipients), e.message)
            count += 1
        await client.quit()
        return count

    async def main() -> int:
        return sum(await asyncio.gather(*(lane(k) for k in range(connections))))

    return asyncio.run(main())


CLIENTS: dict[str, Callable[[int, list[Envelope], int, int], int]] = {
    "herald": herald_client,
    "smtplib": smtplib_client,
    "aiosmtplib": aiosmtplib_client,
}


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench smtp")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="herald")
    parser.add_argument("--server", choices=["sink", "aiosmtpd"], default="sink")
    parser.add_argument("--size", type=int, default=15_000, help="bytes per message")
    parser.add_argument("--batch", type=int, default=1000, help="messages per send() call")
    args = parser.parse_args(argv)
    envelopes = [
        Envelope(SENDER, (f"user{n}@example.com",), make_message(n, args.size))
        for n in range(args.messages)
    ]
    sink = _sink_module()
    if args.server == "sink":
        sink.ensure_smtp_sink()  # before measuring: an install's CPU is not the sink's
    children_cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    server = sink.smtp_sink() if args.server == "sink" else aiosmtpd_server()
    with server as (port, _process):
        cpu = cpu_seconds(resource.RUSAGE_SELF)
        start = time.perf_counter()
        sent = CLIENTS[args.client](port, envelopes, args.connections, args.batch)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
    if sent != args.messages:
        raise SystemExit(f"only {sent} of {args.messages} messages were accepted")
    figures = {
        "msgs_per_s": round(sent / elapsed, 1),
        "connections": args.connections,
        "messages": sent,
        "client": args.client,
        "server": "smtp-sink" if args.server == "sink" else "aiosmtpd",
        "message_bytes": len(envelopes[0].message),
        "client_cpu_us_per_msg": round(1e6 * cpu / sent, 1),
    }
    if args.server == "sink":
        # The sink ran as our child: its CPU shows once it has exited.
        children_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children_cpu
        figures["sink_cpu_us_per_msg"] = round(1e6 * children_cpu / sent, 1)
    return figures

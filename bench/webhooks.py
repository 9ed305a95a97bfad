"""`herald bench webhooks [--events N] [--rate R] [--database sqlite|postgres]`: webhook
delivery by one worker's loop (herald.webhooks.dispatch.step) to a local HTTP receiver.

1. Throughput: N events (default 20,000: 4 per delivery, so each object's messages go in
   order) are recorded with one endpoint subscribed, then the loop runs until the receiver has
   them all; prints events delivered per second (target: 1,000 or more).
2. Delay: events are recorded at R per second (default 200) for 15 s while the loop runs;
   prints p50/p99 of the time from an event's recording to its arrival at the receiver.

The receiver is a process of its own (Python's threaded http.server with keep-alive) that
answers 200 at once and reports each arrival's time. The measuring half runs in
`herald bench webhooks --child`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from _common import fresh_database, herald, peak_rss_mb

PER_DELIVERY = 4
DELAY_SECONDS = 15


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald bench webhooks")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200, help="events per second, delay phase")
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: list[str]) -> dict[str, Any]:
    args = _parse(argv)
    if args.child:
        return _measure(args)
    with fresh_database(args.database) as env:
        try:
            herald(["migrate"], env)
            child = herald(["bench", "webhooks", "--child", *argv], env)
        finally:
            shutil.rmtree(env["HERALD_DATA_DIR"], ignore_errors=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return figures


RECEIVER = """
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        event = json.loads(body)["data"]["event_id"]
        sys.stdout.write(f"{time.time()} {event}\\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class _Receiver:
    """The receiver, a process of its own (as a real one is): it prints each arrival."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []  # (time, event id)
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}/hook"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            at, event = line.split()
            self.arrivals.append((float(at), int(event)))

    def stop(self) -> None:
        self.process.kill()


def _campaign_and_contact() -> tuple[Any, Any]:
    from herald.audit.actors import Actor
    from herald.campaigns.actions import do_save_campaign
    from herald.contacts.actions import do_upsert_contacts
    from herald.contacts.models import Contact, ContactList
    from herald.mailboxes.actions import ensure_sandbox_mailbox
    from herald.messaging.actions import do_save_template

    actor = Actor.system("bench")
    template = do_save_template(actor, None, name="Bench", subject="Hi", html="<p>Hi</p>")
    contact_list = ContactList.objects.create(name="Bench")
    campaign = do_save_campaign(
        actor,
        None,
        lists=[contact_list],
        name="Bench",
        mailbox=ensure_sandbox_mailbox(),
        template=template.template,
    )
    do_upsert_contacts(actor, [{"first_name": "Bench", "emails": ["bench@example.org"]}])
    return campaign, Contact.objects.get()


def _deliveries(count: int) -> list[Any]:
    from herald.campaigns.models import Campaign, Delivery

    campaign = Campaign.objects.first()
    if campaign is None:
        campaign, _ = _campaign_and_contact()
    contact = campaign.deliveries.first().contact if campaign.deliveries.exists() else None
    if contact is None:
        from herald.contacts.models import Contact

        contact = Contact.objects.get()
    return Delivery.objects.bulk_create(
        Delivery(campaign=campaign, contact=contact, email=f"r{n}@example.org", state="sent")
        for n in range(count)
    )


def _record(deliveries: list[Any], kinds: list[str]) -> None:
    from herald.campaigns.models import Event

    Event.objects.bulk_create(
        Event(campaign_id=d.campaign_id, delivery=d, kind=kind)
        for kind in kinds
        for d in deliveries
    )


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.utils import timezone

    from herald.audit.actors import Actor
    from herald.campaigns.models import Event
    from herald.webhooks import actions, dispatch
    from herald.webhooks.models import Message

    receiver = _Receiver()
    actions.do_create_endpoint(Actor.system("bench"), receiver.url)
    kinds = ["sent", "opened", "clicked", "opened"][:PER_DELIVERY]

    # 1. Throughput.
    deliveries = _deliveries(args.events // PER_DELIVERY)
    _record(deliveries, kinds)
    total = len(deliveries) * len(kinds)
    start = time.perf_counter()
    while len(receiver.arrivals) < total:
        if not dispatch.step() and len(receiver.arrivals) < total:
            time.sleep(0.01)
    elapsed = time.perf_counter() - start
    ordered = _in_order(receiver.arrivals)

    # 2. Delay, events recorded at a steady rate while the loop runs (as a worker would).
    receiver.arrivals.clear()
    Message.objects.all().delete()
    stop = threading.Event()

    def loop() -> None:  # as a worker's loop: again at once while busy, else after a pause
        while not stop.is_set():
            if not dispatch.step():
                time.sleep(dispatch.LOOP_INTERVAL)

    worker = threading.Thread(target=loop)
    worker.start()
    batch = max(1, args.rate // 20)  # 20 writes a second, as the dialer's batches come
    recorded = 0
    first = _deliveries(args.rate * DELAY_SECONDS)
    begin = time.perf_counter()
    for index in range(args.rate * DELAY_SECONDS // batch):
        _record(first[index * batch : (index + 1) * batch], ["sent"])
        recorded += batch
        time.sleep(max(0.0, begin + (index + 1) * batch / args.rate - time.perf_counter()))
    deadline = time.time() + 60
    while len(receiver.arrivals) < recorded and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join()
    at = {e.pk: e.at.timestamp() for e in Event.objects.filter(kind="sent", delivery__in=first)}
    delays = sorted(1000 * (t - at[i]) for t, i in receiver.arrivals if i in at)
    receiver.stop()
    return {
        "bench": "webhooks",
        "database": args.database,
        "events": total,
        "events_per_s": round(total / elapsed, 1),
        "in_order_per_object": ordered,
        "delay_events": len(delays),
        "delay_p50_ms": round(statistics.median(delays), 1) if delays else None,
        "delay_p99_ms": round(delays[int(0.99 * (len(delays) - 1))], 1) if delays else None,
        "now": timezone.now().isoformat(),
        "peak_rss_mb": peak_rss_mb(),
    }


def _in_order(arrivals: list[tuple[float, int]]) -> bool:
    """Whether each delivery's events arrived in the order they were recorded."""
    from herald.campaigns.models import Event

    delivery_of = dict(Event.objects.values_list("id", "delivery_id"))
    last: dict[int, int] = {}
    for _, event_id in sorted(arrivals):
        delivery = delivery_of[event_id]
        if last.get(delivery, 0) > event_id:
            return False
        last[delivery] = event_id
    return True

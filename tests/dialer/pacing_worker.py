"""A dialer-like worker process for the pacing integration test. Once Django is set up it prints
``ready`` and reads ``START UNTIL`` (epoch seconds) from stdin, so that all workers begin
together however long each took to start; from START until UNTIL it reserves slots for one
shared key in batches, then sends each message no earlier than its slot to the test's SMTP
server, each carrying its slot and worker in headers, as the dialer does: paced with the
pacer's tolerance, and a message that cannot start in time for its slot is not sent (the dialer
would give it a new slot). Prints one JSON line per batch: {"worker": W, "slots": [...], "late":
[...]} (the slots of the messages sent, and of those that missed theirs).

Run with DATABASE_URL pointing at the test database: ``python -m tests.dialer.pacing_worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()

    from herald.dialer import pacing
    from herald.dialer.queries import reserve_slots
    from herald.dialer.smtp import SmtpConfig, SmtpTransport
    from herald.dialer.transport import Envelope, Status

    limits = {"campaign:pacing-test": pacing.with_tolerance([pacing.rate(args.rate, "second")])}
    late = pacing.START_LATE_US / pacing.US
    sent = 0
    with SmtpTransport(SmtpConfig("127.0.0.1", args.port, "none", timeout=10)) as transport:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        start, until = (float(x) for x in sys.stdin.readline().split())
        time.sleep(max(0.0, start - time.time()))
        while time.time() < until:
            slots = reserve_slots(limits, args.batch)
            if not slots:
                time.sleep(max(0.0, min(slots.next_at.timestamp(), until) - time.time()))
                continue
            batch = []
            for slot in slots:
                sent += 1
                at = slot.timestamp()
                body = (
                    f"From: <w@example.org>\r\nTo: <to@example.com>\r\n"
                    f"X-Slot: {at!r}\r\nX-Worker: {args.worker}\r\nSubject: {sent}\r\n\r\nhi\r\n"
                ).encode()
                batch.append(Envelope("w@example.org", ("to@example.com",), body, at, at + late))
            outcomes = transport.send(batch)
            if not all(o.sent or o.status is Status.LATE for o in outcomes):
                sys.exit(f"a message was not sent: {outcomes}")
            done = {
                "worker": args.worker,
                "slots": [e.not_before for e, o in zip(batch, outcomes, strict=True) if o.sent],
                "late": [e.not_before for e, o in zip(batch, outcomes, strict=True) if not o.sent],
            }
            line = json.dumps(done)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

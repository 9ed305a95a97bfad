"""Pacing across worker processes sharing one database: 1 and 3 workers reserve slots for one
campaign at 20 per second and send to a real SMTP server that timestamps every arrival.

Asserted where the promise is made, at the receiving server: the messages that reached it never
number more than 20 in any 1-second window of their arrival times (the rate is global, not per
worker, and holds as received: a message that could not start in time for its slot was not sent
late, crowding the next ones); every message arrived once, no earlier than its slot; and nearly
all slots were used (a late message is the exception, not how the rate is kept).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from tests.dialer.smtpd import SmtpServer

RATE = 20
SECONDS = 3  # how long the workers send: long enough for several windows of 1 s
REPO = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def most_in_a_window(times: list[float], width: float) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - width:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
def test_worker_processes_together_never_exceed_the_rate_in_any_second(workers: int) -> None:
    smtpd = SmtpServer()
    try:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "HERALD_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
        command = [sys.executable, "-m", "tests.dialer.pacing_worker", "--port", str(smtpd.port)]
        procs = [
            subprocess.Popen(
                [*command, "--worker", str(w), "--rate", str(RATE)],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(workers)
        ]
        for p in procs:  # every process has set Django up: start them together
            assert p.stdout is not None
            assert p.stdout.readline() == "ready\n", p.stderr.read() if p.stderr else ""
        start = time.time() + 0.2
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(f"{start!r} {start + SECONDS!r}\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err
        slots: list[float] = []
        late: list[float] = []
        by_worker: Counter[str] = Counter()
        for out, _ in results:
            for line in out.splitlines():
                batch = json.loads(line)
                slots += batch["slots"]
                late += batch["late"]
                by_worker[batch["worker"]] += len(batch["slots"])
        received = smtpd.received
    finally:
        smtpd.stop()

    # The workers really shared the key: with three, at least two got slots (a busy machine may
    # keep one from its turn for the few seconds of the test; the rate holds all the same).
    assert len(by_worker) >= min(workers, 2), "the workers did not share the sending"
    assert len(slots) >= RATE, "the workers sent for seconds, at the rate"
    assert len(late) * 5 <= len(slots), f"{len(late)} of {len(slots) + len(late)} slots missed"
    assert len(set(slots + late)) == len(slots) + len(late), "two workers got the same slot"
    # Every message arrived exactly once, not before its slot, and never more than the rate in
    # any second at the server.
    arrived = {}
    for message in received:
        headers = dict(
            line.split(": ", 1)
            for line in message.content.decode().split("\r\n\r\n")[0].split("\r\n")
        )
        slot = float(headers["X-Slot"])
        assert slot not in arrived, "a message arrived twice"
        arrived[slot] = message.arrived
    assert sorted(arrived) == sorted(slots)
    assert all(at >= slot for slot, at in arrived.items()), "a message was sent before its slot"
    assert most_in_a_window(list(arrived.values()), 1.0) <= RATE

"""Pacing across worker processes sharing one database: 1 and 3 workers reserve slots for one
campaign at 20 per second and send to a real SMTP server that timestamps every arrival.

Asserted: the slots all workers got together never put more than 20 in any 1-second window
(the rate is global, not per worker); every message arrived once, and no earlier than its slot.
Arrival times are not held to the window themselves: a machine shared with other test runs may
delay a message past its slot (never ahead of it), and that lateness is the network's and the
scheduler's, not the pacer's.
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
        start = time.time() + 4  # every process has set Django up by then
        until = start + 3
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "HERALD_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.dialer.pacing_worker",
                    "--worker",
                    str(w),
                    "--port",
                    str(smtpd.port),
                    "--rate",
                    str(RATE),
                    "--start",
                    repr(start),
                    "--until",
                    repr(until),
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(workers)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err
        slots: list[float] = []
        by_worker: Counter[str] = Counter()
        for out, _ in results:
            for line in out.splitlines():
                batch = json.loads(line)
                slots += batch["slots"]
                by_worker[batch["worker"]] += len(batch["slots"])
        received = smtpd.received
    finally:
        smtpd.stop()

    assert len(by_worker) == workers, "every worker took part in sending"
    assert len(slots) >= RATE, "the workers sent for seconds, at the rate"
    assert most_in_a_window(slots, 1.0) <= RATE
    assert len(set(slots)) == len(slots), "two workers were given the same slot"
    # Every message arrived exactly once, and not before its slot.
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

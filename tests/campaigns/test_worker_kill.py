"""Crash safety with real worker processes: SIGKILL a `herald worker` again and again during a
campaign, restarting it each time. Afterwards every delivery is final (sent), every address got
its message, and the duplicates are at most the messages in flight at the kills (one batch per
kill); the test prints how many there were. SIGTERM, instead, drains: the worker records its
batch in flight before it exits, and leaves nothing 'sending'.
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections import Counter

import pytest
from django.db import connection

from herald.campaigns import actions
from herald.campaigns.models import CampaignStatus, Delivery, Event
from herald.mailboxes.actions import do_save_mailbox
from tests.campaigns.conftest import ACTOR
from tests.campaigns.workers import Worker, bulk_list, wait_for
from tests.dialer.smtpd import Behaviour, SmtpServer

RECIPIENTS = 700
BATCH = 50  # HERALD_DIALER_BATCH: the most one worker has in flight
KILLS = 5
LEASE_SECONDS = 2  # HERALD_DIALER_LEASE_SECONDS: a killed worker's batch is due again after it
# Paced, so that the campaign outlasts the kills however fast the machine sends (~18 s of sending),
# with gaps between messages for the kills "between" them.
RATE_PER_SECOND = 40


def _kill_moment(smtp: SmtpServer, at_least: int, *, arriving: bool) -> None:
    """Returns once the worker has sent ``at_least`` more messages, at a moment when messages
    arrive (``arriving``: a batch in flight, the worst case) or when none has arrived for a
    while (between two batches: recording one, claiming or making the next)."""
    target = len(smtp.received) + at_least
    deadline = time.monotonic() + 90
    last, quiet = -1, 0
    while time.monotonic() < deadline:
        count = len(smtp.received)
        quiet = quiet + 1 if count == last else 0
        if count >= target and (quiet == 0 if arriving else quiet >= 10):
            return
        last = count
        time.sleep(0.002)
    pytest.fail("the worker did not send as many (or the campaign ended)")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_killed_workers_lose_nothing_and_resend_at_most_their_batch_in_flight(
    smtp, mailbox, make_campaign, tmp_path, capsys
):
    emails = [f"r{i}@example.com" for i in range(RECIPIENTS)]
    campaign = make_campaign(
        [bulk_list("Everyone", emails)], rate_count=RATE_PER_SECOND, rate_unit="second"
    )
    actions.do_start_campaign(ACTOR, campaign)
    env = {
        "HERALD_DIALER_BATCH": str(BATCH),
        "HERALD_DIALER_LEASE_SECONDS": str(LEASE_SECONDS),
    }

    def completed() -> bool:
        campaign.refresh_from_db()
        return campaign.status == CampaignStatus.COMPLETED

    chance = random.Random(5)
    kills = 0
    worker = Worker(tmp_path, "worker-0", **env)
    try:
        while kills < KILLS:
            _kill_moment(smtp, chance.randint(10, 80), arriving=kills % 2 == 0)
            assert not completed(), f"the campaign ended after {kills} kills: make it longer"
            worker.kill()
            kills += 1
            worker = Worker(tmp_path, f"worker-{kills}", **env)
        wait_for(completed, "the last worker to complete the campaign")
        assert worker.stop() == 0, worker.output()
    finally:
        worker.kill()

    deliveries = Delivery.objects.filter(campaign=campaign)
    assert dict(Counter(deliveries.values_list("state", flat=True))) == {"sent": RECIPIENTS}
    arrived = Counter(r.rcpt_tos[0] for r in smtp.received)
    assert set(arrived) == set(emails), "an address never got its message"
    duplicates = sum(arrived.values()) - len(arrived)
    with capsys.disabled():
        sys.stdout.write(
            f"\nkill test on {connection.vendor}: {kills} SIGKILLs, {duplicates} duplicates "
            f"(bound {kills} x {BATCH} = {kills * BATCH})\n"
        )
    assert duplicates <= kills * BATCH
    # Each delivery's sending was recorded (a resent one once more is possible, never none).
    assert Event.objects.filter(campaign=campaign, kind="sent").count() >= RECIPIENTS


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_stopped_with_sigterm_records_its_batch_in_flight_before_it_exits(
    mailbox, make_campaign, tmp_path
):
    # Slow replies: a batch takes seconds, so the SIGTERM surely comes in the middle of one.
    server = SmtpServer(behaviour=Behaviour(slow_seconds=0.2))
    try:
        mailbox = do_save_mailbox(ACTOR, mailbox, {"smtp_port": server.port, "max_connections": 1})
        emails = [f"slow+{i}@example.com" for i in range(40)]
        campaign = make_campaign([bulk_list("Everyone", emails)])
        actions.do_start_campaign(ACTOR, campaign)
        worker = Worker(tmp_path, "worker", HERALD_DIALER_BATCH="10")
        try:
            wait_for(lambda: len(server.received) >= 1, "the worker to send")
            worker.process.send_signal(signal.SIGTERM)
            at_sigterm = len(server.received)
            assert worker.stop() == 0, worker.output()
        finally:
            worker.kill()
        received = server.received
    finally:
        server.stop()

    assert "Worker stopped." in worker.output()
    assert len(received) > at_sigterm, "the batch in flight was not finished"
    states = Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states["sending"] == 0
    assert states["sent"] == len(received)  # every message that went is recorded, no more
    assert states["queued"] == len(emails) - len(received)  # the rest waits for a worker
    sent = set(
        Delivery.objects.filter(campaign=campaign, state="sent").values_list("email", flat=True)
    )
    assert sent == {r.rcpt_tos[0] for r in received}

"""Pacing with real `herald worker` processes: two campaigns at 20 messages per second each, on
one mailbox whose provider allows 25 per second, sent by 1 and by 3 workers to a real SMTP
server that timestamps every arrival.

What is asserted, and why so:

- the slots the workers were granted, all together (read back from the pacer's shared state:
  each campaign has a daily cap, so its state keeps every slot of the day), never put more than
  20 of a campaign, nor more than 25 of the mailbox, in any 1-second window: the rates are
  global, not per worker, and the mailbox's is shared by its campaigns;
- the server received each campaign's messages never ahead of its slots: by any moment it had
  received no more than the pace allowed by then (the k-th arrival is no earlier than the k-th
  slot). Arrival times themselves are not counted per window: a slot is the earliest a message
  may go, and the network and a busy machine add a few milliseconds that differ from message
  to message, so two messages exactly one period apart may arrive a hair less than a period
  apart; that jitter is not the pacer's. (That no slot passes while the dialer makes its
  messages, which would send them late in a bunch, is tested in test_dialer_pacing.py);
- every address got its message exactly once, and with 3 workers more than one of them sent.
"""

from __future__ import annotations

import pytest

from herald.campaigns import actions
from herald.campaigns.models import CampaignStatus
from herald.dialer.models import PacingState
from herald.dialer.pacing import US
from herald.mailboxes.actions import do_save_mailbox
from tests.campaigns.conftest import ACTOR
from tests.campaigns.workers import Worker, bulk_list, needs_postgres, wait_for
from tests.dialer.test_pacing_workers import most_in_a_window

CAMPAIGN_RATE = 20
MAILBOX_RATE = 25
PER_CAMPAIGN = 45  # a few seconds of sending: several 1-second windows


def _slots(key: str) -> list[float]:
    history = PacingState.objects.get(key=key).history
    assert all(n == 1 for _, n in history), "the pacer's history merged slots: use fewer"
    return [t / US for t, _ in history]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, pytest.param(3, marks=needs_postgres)])
def test_worker_processes_never_exceed_the_campaign_or_mailbox_rate_in_any_second(
    smtp, mailbox, make_campaign, tmp_path, workers
):
    do_save_mailbox(ACTOR, mailbox, {"max_per_second": MAILBOX_RATE, "max_connections": 1})
    campaigns = {}
    for name in ("a", "b"):
        emails = [f"{name}{i}@example.com" for i in range(PER_CAMPAIGN)]
        campaigns[name] = make_campaign(
            [bulk_list(f"List {name}", emails)],
            name=f"Campaign {name}",
            rate_count=CAMPAIGN_RATE,
            rate_unit="second",
            daily_cap=100_000,
        )
    processes = [Worker(tmp_path, f"worker-{w}") for w in range(workers)]
    try:
        for process in processes:
            wait_for(process.running, "the worker to start")
        for campaign in campaigns.values():
            actions.do_start_campaign(ACTOR, campaign)

        def completed() -> bool:
            return all(
                c.status == CampaignStatus.COMPLETED
                for c in type(campaign).objects.filter(pk__in=[c.pk for c in campaigns.values()])
            )

        wait_for(completed, "the workers to send both campaigns")
        for process in processes:
            assert process.stop() == 0, process.output()
    finally:
        for process in processes:
            process.kill()

    received = smtp.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(
        f"{name}{i}@example.com" for name in campaigns for i in range(PER_CAMPAIGN)
    )
    every_slot = []
    for name, campaign in campaigns.items():
        slots = _slots(campaign.pacing_key)
        assert len(slots) == PER_CAMPAIGN  # one slot per message, none wasted
        assert most_in_a_window(slots, 1.0) <= CAMPAIGN_RATE
        arrivals = sorted(r.arrived for r in received if r.rcpt_tos[0].startswith(name))
        assert all(a >= s for a, s in zip(arrivals, sorted(slots), strict=True)), (
            "a message arrived ahead of the pace"
        )
        every_slot += slots
    assert most_in_a_window(every_slot, 1.0) <= MAILBOX_RATE
    if workers > 1:  # one SMTP connection per worker: messages came on more than one
        assert len({r.peer for r in received}) >= 2, "the workers did not share the sending"

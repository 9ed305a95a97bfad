"""Pacing with real `herald worker` processes: two campaigns at 20 messages per second each, on
one mailbox whose provider allows 25 per second, sent by 1 and by 3 workers to a real SMTP
server that timestamps every arrival.

What is asserted, at the receiving server, since that is where the limit is a promise:

- the messages of each campaign never number more than 20, and those of the mailbox more than
  25, in any 1-second window of their arrival times: the rates are global, not per worker, the
  mailbox's is shared by its campaigns, and they hold as received (a message that missed its
  slot takes a new one rather than leaving late, right before the next);
- the server received each campaign's messages never ahead of its slots (the k-th arrival is
  no earlier than the k-th slot), the slots being read back from the pacer's shared state (each
  campaign has a daily cap, so its state keeps every slot of the day);
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
    every_arrival: list[float] = []
    for name, campaign in campaigns.items():
        slots = _slots(campaign.pacing_key)
        # One slot per message, but for the few that missed theirs and took another.
        assert PER_CAMPAIGN <= len(slots) <= PER_CAMPAIGN * 1.2
        arrivals = sorted(r.arrived for r in received if r.rcpt_tos[0].startswith(name))
        assert most_in_a_window(arrivals, 1.0) <= CAMPAIGN_RATE
        assert all(a >= s for a, s in zip(arrivals, sorted(slots), strict=False)), (
            "a message arrived ahead of the pace"
        )
        every_arrival += arrivals
    assert most_in_a_window(every_arrival, 1.0) <= MAILBOX_RATE
    if workers > 1:  # one SMTP connection per worker: messages came on more than one
        assert len({r.peer for r in received}) >= 2, "the workers did not share the sending"

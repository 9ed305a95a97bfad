"""The dialer's pacing slots start once a batch's messages are ready: a slot that passed while
the batch was rendered and signed would send its message late, together with the next ones — a
bunch of messages closer together than the rate, as the receiving server sees them. And a
message that misses its slot anyway (held up behind a slow server) takes a new one."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from herald.campaigns import actions
from herald.dialer import sender
from herald.dialer.transport import Envelope, OutboxTransport, Outcome
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db


class Recorder(OutboxTransport):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[float]] = []

    def send(self, batch: Sequence[Envelope]) -> list[Outcome]:
        self.batches.append([e.not_before or 0.0 for e in batch])
        return super().send(batch)


def test_no_slot_of_a_batch_passes_while_its_messages_are_made(make_campaign, monkeypatch):
    transport = Recorder()
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: transport)
    made: list[float] = []
    message = sender.Dialer._message

    def timed(*args: object) -> bytes:
        result = message(*args)  # type: ignore[arg-type]
        made.append(time.time())
        return result

    monkeypatch.setattr(sender.Dialer, "_message", timed)
    emails = [f"p{i}@example.com" for i in range(30)]
    campaign = make_campaign([make_list("Customers", emails)], rate_count=20, rate_unit="second")
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()

    assert sorted(e.recipients[0] for e in transport.sent) == sorted(emails)
    assert len(transport.batches) == 1
    slots = transport.batches[0]
    assert slots == sorted(slots)
    # The first slot is no earlier than the last message was ready (1 ms for the clock's grain).
    assert slots[0] >= made[-1] - 0.001


def test_a_message_that_missed_its_slot_takes_a_new_one_and_the_rate_holds_at_the_server(
    smtp, mailbox, make_campaign
):
    """A server that answers one message slowly holds up the one behind it on the single
    connection: that message is sent later on a slot of its own, once, with no failed attempt,
    and the server never sees more than the rate in any second."""
    from herald.campaigns.models import Delivery, Event, EventKind
    from herald.dialer.models import PacingState
    from herald.mailboxes.actions import do_save_mailbox
    from tests.campaigns.conftest import run_until
    from tests.dialer.test_pacing_workers import most_in_a_window

    do_save_mailbox(ACTOR, mailbox, {"max_connections": 1})
    smtp.behaviour.slow_seconds = 0.4
    # Every third message is answered slowly (wherever the claim puts them, some are mid-chunk).
    emails = [f"slow+{i}@example.com" if i % 3 == 0 else f"p{i}@example.com" for i in range(15)]
    campaign = make_campaign(
        [make_list("Customers", emails)], rate_count=5, rate_unit="second", daily_cap=1000
    )
    actions.do_start_campaign(ACTOR, campaign)
    deliveries = Delivery.objects.filter(campaign=campaign)
    run_until(lambda: not deliveries.exclude(state="sent").exists()).close()

    received = smtp.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(emails)  # each exactly once
    assert most_in_a_window([r.arrived for r in received], 1.0) <= 5
    # Nobody's message failed or was deferred for it: one attempt, one "sent" event each.
    assert set(deliveries.values_list("attempts", flat=True)) == {1}
    events = Event.objects.filter(campaign=campaign, delivery__isnull=False)
    assert sorted(events.values_list("kind", flat=True)) == [EventKind.SENT] * len(emails)
    # Some message did miss its slot (the daily cap keeps every slot of the day in the state).
    history = PacingState.objects.get(key=campaign.pacing_key).history
    assert sum(n for _, n in history) > len(emails)

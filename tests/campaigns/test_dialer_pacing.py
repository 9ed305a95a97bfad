"""The dialer's pacing slots start once a batch's messages are ready: a slot that passed while
the batch was rendered and signed would send its message late, together with the next ones — a
bunch of messages closer together than the rate, as the receiving server sees them."""

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

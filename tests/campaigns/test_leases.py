"""What a worker holds stays its own while it works, and is recorded even when the database
hiccups: no message goes twice because a server was slow or a connection was cut.

- A chunk on the wire longer than the lease (a slow server) keeps its lease: the worker renews
  it, so no other worker can take those deliveries meanwhile — which lets the lease be short
  (30 s by default), so that a dead worker's share is taken over soon.
- A connection cut while the outcomes are written: the worker reconnects and writes them (before,
  they were dropped, and every message of the chunk was sent again after the lease).
- A write that went through although its reply was lost is written again without a second
  event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from herald.campaigns import actions
from herald.campaigns.models import Delivery, Event, EventKind
from herald.campaigns.queries import claim
from herald.dialer import sender
from herald.dialer.transport import Envelope, OutboxTransport, Outcome
from tests.campaigns.conftest import ACTOR, drain, make_list

EMAILS = [f"held{i}@example.com" for i in range(6)]


def _sent_once(campaign) -> None:
    """Every delivery sent, with exactly one "sent" event each."""
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert sorted(deliveries.values_list("state", flat=True)) == ["sent"] * len(EMAILS)
    sent = Event.objects.filter(campaign=campaign, kind=EventKind.SENT)
    assert sorted(sent.values_list("delivery__email", flat=True)) == sorted(EMAILS)


class SlowOutbox(OutboxTransport):
    """Takes ``seconds`` to send (a slow server); meanwhile another worker tries to claim."""

    def __init__(self, campaign_id: int, seconds: float) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.seconds = seconds
        self.taken_by_another: list[int] = []

    def send(self, batch: Sequence[Envelope]) -> list[Outcome]:
        time.sleep(self.seconds)
        later = timezone.now() + timezone.timedelta(seconds=60)
        try:  # this thread has a connection of its own: it is "another worker"
            taken = claim(self.campaign_id, 100, timezone.now(), later)
            self.taken_by_another = [d.id for d in taken]
        finally:
            connection.close()
        return super().send(batch)


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_the_lease_of_what_it_sends_however_slow_the_server(
    make_campaign, monkeypatch, settings
):
    settings.DIALER_LEASE_SECONDS = 1
    campaign = make_campaign([make_list("Customers", EMAILS)])
    actions.do_start_campaign(ACTOR, campaign)
    outbox = SlowOutbox(campaign.pk, seconds=2.5)  # the lease would have ended twice over
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: outbox)
    drain().close()

    assert outbox.taken_by_another == []
    assert sorted(e.recipients[0] for e in outbox.sent) == sorted(EMAILS)
    _sent_once(campaign)


def _cut_while_recording(monkeypatch) -> list[str]:
    """The first time outcomes are recorded, the dialer's database connection is cut first
    (its server process terminated from another connection, as a restart or failover would)."""
    import psycopg

    record = sender.record_outcomes
    cuts: list[str] = []

    def cut_then_record(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not cuts:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            params.pop("prepare_threshold", None)
            with psycopg.connect(**params, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
            cuts.append(f"terminated backend {pid}")
        return record(*args, **kwargs)

    monkeypatch.setattr(sender, "record_outcomes", cut_then_record)
    return cuts


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the cut is a server process terminated from another connection "
    "(an SQLite file has no connection to cut); the PostgreSQL pass of `make test` runs it",
)
@pytest.mark.django_db(transaction=True)
def test_outcomes_held_when_the_database_connection_is_cut_are_recorded_after_reconnecting(
    make_campaign, monkeypatch, settings
):
    settings.DIALER_LEASE_SECONDS = 1
    campaign = make_campaign([make_list("Customers", EMAILS)])
    actions.do_start_campaign(ACTOR, campaign)
    outbox = OutboxTransport()
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: outbox)
    cuts = _cut_while_recording(monkeypatch)
    drain().close()
    assert cuts, "the connection was never cut: the test did not test anything"

    _sent_once(campaign)
    time.sleep(1.2)  # past the lease: nothing is due again, nothing goes a second time
    drain().close()
    assert sorted(e.recipients[0] for e in outbox.sent) == sorted(EMAILS)


@pytest.mark.django_db(transaction=True)
def test_outcomes_written_again_after_a_lost_reply_get_no_second_event(make_campaign, monkeypatch):
    campaign = make_campaign([make_list("Customers", EMAILS)])
    actions.do_start_campaign(ACTOR, campaign)
    outbox = OutboxTransport()
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: outbox)
    record = sender.record_outcomes
    lost: list[bool] = []

    def written_but_reply_lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        record(*args, **kwargs)
        if not lost:
            lost.append(True)
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sender, "record_outcomes", written_but_reply_lost)
    drain().close()

    assert lost
    _sent_once(campaign)

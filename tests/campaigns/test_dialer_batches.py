"""The dialer's batch paths: contacts read as plain rows, outcomes written a batch at a time,
chunks sent while the next is prepared."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from herald.campaigns import actions
from herald.campaigns.models import CampaignStatus, Delivery, Event
from herald.campaigns.queries import (
    Attempt,
    claim_recipients,
    contact_variables,
    write_attempts,
)
from herald.contacts.models import Address, AddressState, Contact
from herald.dialer import sender
from herald.dialer.sender import Dialer
from herald.dialer.transport import OutboxTransport
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db


def _contact_with_addresses() -> Contact:
    contact = Contact.objects.create(
        first_name="Ada",
        last_name="Byron",
        company="Engines",
        language="en",
        timezone="Europe/London",
        external_id="C-1",
        fields={"plan": "gold", "score": 7, "first_name": "shadowed"},
    )
    Address.objects.create(
        contact=contact,
        position=1,
        email="old@example.com",
        email_key="old@example.com",
        state=AddressState.INVALID,
    )
    Address.objects.create(
        contact=contact, position=2, email="Ada@Example.com", email_key="ada@example.com"
    )
    return contact


def test_a_batch_gets_each_contacts_variables_exactly_as_the_contact_gives_them():
    ada = _contact_with_addresses()
    plain = Contact.objects.create(first_name="Bo")
    found = contact_variables([ada.pk, plain.pk, 999_999])
    assert found[ada.pk] == ada.variables()
    assert found[ada.pk]["email"] == "Ada@Example.com"  # the first valid address
    assert found[ada.pk]["first_name"] == "Ada"  # a custom column never hides a built-in one
    assert found[plain.pk] == plain.variables()
    assert 999_999 not in found


def test_a_claim_brings_each_delivery_with_its_contacts_variables(make_campaign):
    people = make_list("People", ["ann@example.com", "bob@example.com"], fields={"plan": "gold"})
    campaign = make_campaign([people])
    actions.do_start_campaign(ACTOR, campaign)
    bob = Contact.objects.get(addresses__email="bob@example.com")
    with connection.cursor() as cursor:  # gone between the launch and the claim
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [bob.pk])
    now = timezone.now()
    claimed = claim_recipients(campaign.pk, 10, now, now + dt.timedelta(minutes=5))
    by_email = {delivery.email: variables for delivery, variables in claimed}
    ann = Contact.objects.get(addresses__email="ann@example.com")
    assert by_email == {"ann@example.com": ann.variables(), "bob@example.com": None}
    assert by_email["ann@example.com"]["plan"] == "gold"
    assert set(Delivery.objects.values_list("state", flat=True)) == {"sending"}


def test_a_paused_campaign_has_nothing_to_claim(make_campaign):
    campaign = make_campaign([make_list("People", ["ann@example.com"])])
    actions.do_start_campaign(ACTOR, campaign)
    actions.do_pause_campaign(ACTOR, campaign)
    now = timezone.now()
    assert claim_recipients(campaign.pk, 10, now, now + dt.timedelta(minutes=5)) == []
    assert Delivery.objects.get().state == "queued"


def test_outcomes_written_a_batch_at_a_time_keep_every_column_and_event(make_campaign):
    campaign = make_campaign([make_list("People", ["a@example.com", "b@example.com", "c@x.org"])])
    actions.do_start_campaign(ACTOR, campaign)
    a, b, c = Delivery.objects.order_by("email")
    now = timezone.now()
    earlier = now - dt.timedelta(hours=1)
    write_attempts(
        campaign.pk,
        [
            # A first attempt sent, a retry sent, and a deferral.
            Attempt(a.pk, "sent", "", None, 1, now, now, 250, "2.0.0 as A1", "sent", "250 A"),
            Attempt(b.pk, "sent", "", None, 3, earlier, now, 250, "2.0.0 ok", "sent", "250 ok"),
            Attempt(
                c.pk,
                "deferred",
                "451 later",
                now + dt.timedelta(minutes=5),
                1,
                now,
                None,
                451,
                "later",
                "deferred",
                "451 later",
                {"stage": "rcpt", "attempt": 1},
            ),
        ],
        now,
    )
    a.refresh_from_db()
    b.refresh_from_db()
    c.refresh_from_db()
    assert (a.state, a.attempts, a.first_attempt_at, a.sent_at, a.code, a.reply) == (
        "sent",
        1,
        now,
        now,
        250,
        "2.0.0 as A1",
    )
    assert (b.state, b.attempts, b.first_attempt_at, b.sent_at) == ("sent", 3, earlier, now)
    assert (c.state, c.reason, c.due_at, c.sent_at, c.code) == (
        "deferred",
        "451 later",
        now + dt.timedelta(minutes=5),
        None,
        451,
    )
    events = {e.delivery_id: e for e in Event.objects.filter(delivery__isnull=False)}
    assert (events[a.pk].kind, events[a.pk].detail, events[a.pk].code) == ("sent", "250 A", 250)
    assert events[a.pk].at == now
    assert events[a.pk].data is None
    assert events[c.pk].kind == "deferred"
    assert events[c.pk].data == {"stage": "rcpt", "attempt": 1}


def test_every_chunk_sent_is_recorded_before_the_step_ends(make_campaign, settings, monkeypatch):
    settings.DIALER_BATCH = 4  # chunks of 2: several overlap within one step
    outbox = OutboxTransport()
    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: outbox)
    emails = [f"p{i}@example.com" for i in range(9)]
    campaign = make_campaign([make_list("People", emails)])
    actions.do_start_campaign(ACTOR, campaign)
    dialer = Dialer()
    assert dialer.step()
    sent = len(outbox.sent)
    assert sent > 2  # more than one chunk in the step
    assert Delivery.objects.filter(state="sent").count() == sent
    assert not Delivery.objects.filter(state="sending").exists()
    drain(dialer).close()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert sorted(e.recipients[0] for e in outbox.sent) == sorted(emails)


def test_a_pause_during_a_step_stops_the_next_chunk(make_campaign, settings, monkeypatch):
    settings.DIALER_BATCH = 2  # chunks of 1
    campaign = make_campaign([make_list("People", [f"p{i}@example.com" for i in range(6)])])
    actions.do_start_campaign(ACTOR, campaign)
    outbox = OutboxTransport()
    real_record = sender.record_outcomes
    recorded: list[int] = []

    def record_then_pause(*args, **kwargs):
        real_record(*args, **kwargs)
        recorded.append(1)
        if len(recorded) == 1:  # the manager pauses once the first message is recorded
            actions.do_pause_campaign(ACTOR, campaign)

    monkeypatch.setattr(sender, "transport_factory", lambda mailbox: outbox)
    monkeypatch.setattr(sender, "record_outcomes", record_then_pause)
    Dialer().step()
    # The first message, and the one on the wire when the pause came; nothing claimed after.
    assert len(outbox.sent) == 2
    assert Delivery.objects.filter(state="sent").count() == 2
    assert Delivery.objects.filter(state="queued").count() == 4


def test_an_address_or_domain_suppressed_after_start_is_never_sent_and_says_why(
    make_campaign, smtp
):
    from herald.contacts.actions import do_add_suppression
    from herald.contacts.models import SuppressionReason

    people = make_list(
        "People", ["ann@example.com", "Bob@Example.com", "cy@gone.example", "dee@example.com"]
    )
    campaign = make_campaign([people])
    actions.do_start_campaign(ACTOR, campaign)
    # After Start: an unsubscribe (any case), a manager's whole domain.
    do_add_suppression(ACTOR, "bob@example.com", reason=SuppressionReason.UNSUBSCRIBED)
    do_add_suppression(ACTOR, "@gone.example")
    drain()
    received = {rcpt for m in smtp.received for rcpt in m.rcpt_tos}
    assert received == {"ann@example.com", "dee@example.com"}
    skipped = dict(
        Delivery.objects.filter(campaign=campaign, state="skipped").values_list("email", "reason")
    )
    assert skipped == {
        "Bob@example.com": "suppressed: unsubscribed",
        "cy@gone.example": "suppressed domain: manual",
    }
    assert Event.objects.filter(campaign=campaign, kind="skipped").count() == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED

"""Too many failures pause a campaign by themselves, saying why; resuming goes on where it
stopped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F

from herald.campaigns import actions
from herald.campaigns.models import CampaignStatus, Delivery, Event
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db

BAD = [f"rcpt-550+{i}@example.com" for i in range(10)]
GOOD = [f"good{i}@example.com" for i in range(20)]


def test_failures_above_the_threshold_pause_the_campaign_and_resume_continues(
    smtp, make_campaign, settings
):
    settings.DIALER_BATCH = 10
    customers = make_list("Customers", [*BAD, *GOOD])
    campaign = make_campaign([customers], failure_percent=20, failure_window=10)
    actions.do_start_campaign(ACTOR, campaign)
    # The bad addresses are the first to go.
    Delivery.objects.filter(email__in=BAD).update(due_at=F("due_at") - dt.timedelta(minutes=1))

    dialer = drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert campaign.status_reason == (
        "10 of the last 10 attempts failed (more than 20 %); last: 550 5.1.1 No such user here"
    )
    paused = Event.objects.get(campaign=campaign, kind="paused")
    assert paused.detail == campaign.status_reason
    assert paused.data == {"automatic": True}
    assert len(smtp.received) == 0
    assert Delivery.objects.filter(campaign=campaign, state="queued").count() == len(GOOD)

    drain(dialer)  # a paused campaign sends nothing
    assert len(smtp.received) == 0

    actions.do_resume_campaign(ACTOR, campaign)
    drain(dialer).close()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(GOOD)
    states = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
    assert states == {**dict.fromkeys(BAD, "failed"), **dict.fromkeys(GOOD, "sent")}

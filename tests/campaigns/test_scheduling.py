"""Dated and recurring starts, and send windows, driven by an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.accounts.models import Account
from herald.campaigns import actions, windows
from herald.campaigns.models import CampaignStatus, Delivery
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db
PARIS = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture(autouse=True)
def _paris(db):
    account = Account.load()
    account.timezone = "Europe/Paris"
    account.save()


def test_a_dated_campaign_waits_for_its_time_then_launches_by_itself(smtp, make_campaign):
    when = dt.datetime(2026, 12, 1, 9, 0, tzinfo=PARIS)
    campaign = make_campaign([make_list("L", ["ann@example.com"])], start_mode="at", start_at=when)
    actions.do_start_campaign(ACTOR, campaign, now=when - dt.timedelta(days=1))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.next_run_at == when
    assert actions.launch_due_campaigns(when - dt.timedelta(seconds=1)) == 0
    assert not Delivery.objects.exists()
    assert actions.launch_due_campaigns(when) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert Delivery.objects.count() == 1


def test_a_recurring_campaign_relaunches_for_its_next_run_after_completing(smtp, make_campaign):
    weekly = windows.recurrence_to_json(windows.parse_recurrence("Mon 09:00"))
    customers = make_list("Weekly", ["ann@example.com"])
    campaign = make_campaign([customers], start_mode="recurring", recurrence=weekly)
    # Sunday 29 March 2026, the day Paris moves its clocks forward.
    sunday = dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.UTC)
    actions.do_start_campaign(ACTOR, campaign, now=sunday)
    campaign.refresh_from_db()
    monday_9_paris = dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)  # 09:00 CEST
    assert campaign.next_run_at == monday_9_paris
    assert actions.launch_due_campaigns(monday_9_paris) == 1
    drain(now=monday_9_paris).close()
    campaign.refresh_from_db()
    # The run completed: the campaign waits for the next Monday, 09:00 Paris time.
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.next_run_at == monday_9_paris + dt.timedelta(days=7)
    assert campaign.run == 1
    assert len(smtp.received) == 1


def test_outside_its_window_a_campaign_sends_nothing_and_resumes_when_it_opens(smtp, make_campaign):
    afternoons = windows.to_json(windows.parse_windows("Mon-Fri 13:00-18:00"))
    campaign = make_campaign(
        [make_list("L", ["ann@example.com", "bob@example.com"])], windows=afternoons
    )
    saturday = dt.datetime(2026, 10, 24, 14, 0, tzinfo=dt.UTC)  # closed all weekend
    actions.do_start_campaign(ACTOR, campaign, now=saturday)
    drain(now=saturday).close()
    assert smtp.received == []
    assert Delivery.objects.filter(state="queued").count() == 2
    # Monday 26 October after the change back to CET: 13:00 Paris is 12:00 UTC.
    before = dt.datetime(2026, 10, 26, 11, 59, tzinfo=dt.UTC)
    drain(now=before).close()
    assert smtp.received == []
    opens = dt.datetime(2026, 10, 26, 12, 0, tzinfo=dt.UTC)
    drain(now=opens).close()
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@example.com", "bob@example.com"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_windows_in_each_contacts_time_zone_hold_back_only_the_closed_zones(smtp, make_campaign):
    mornings = windows.to_json(windows.parse_windows("every day 09:00-12:00"))
    tokyo = make_list("Tokyo", ["kenji@example.jp"], timezone="Asia/Tokyo")
    paris = make_list("Paris", ["anne@example.fr"], timezone="Europe/Paris")
    campaign = make_campaign([tokyo, paris], windows=mornings, window_zone="contact")
    now = dt.datetime(2026, 11, 16, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo, 02:00 in Paris
    actions.do_start_campaign(ACTOR, campaign, now=now)
    drain(now=now).close()
    assert [r.rcpt_tos[0] for r in smtp.received] == ["kenji@example.jp"]
    waiting = Delivery.objects.get(email="anne@example.fr")
    assert waiting.state == "queued"
    assert waiting.due_at == dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)  # 09:00 in Paris

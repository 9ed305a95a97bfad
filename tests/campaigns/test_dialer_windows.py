"""Send windows in the dialer, with an injected clock: outside its window a running campaign sends
nothing, and it goes on by itself when the window opens — in the account's time zone, or in each
contact's own."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.accounts.models import Account
from herald.campaigns import actions, windows
from herald.campaigns.models import CampaignStatus, Delivery
from herald.dialer.sender import Dialer
from tests.campaigns.conftest import ACTOR, make_list

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)  # a Monday (in the past: slots go at once)
AFTERNOONS = windows.to_json(windows.parse_windows("Mon-Fri 13:00-18:00"))


def _at(hours: float) -> dt.datetime:
    return MONDAY + dt.timedelta(hours=hours)


def _steps(dialer: Dialer, now: dt.datetime) -> None:
    """The dialer's steps at ``now`` until it has nothing to do at that moment."""
    for _ in range(20):
        if not dialer.step(now):
            return


def test_a_campaign_waits_outside_its_window_and_sends_when_it_opens(smtp, make_campaign):
    account = Account.load()
    account.timezone = "Europe/Paris"  # 13:00 in Paris is 12:00 UTC in November
    account.save()
    customers = make_list("Customers", ["ann@example.com", "bob@example.com"])
    campaign = make_campaign([customers], windows=AFTERNOONS)
    actions.do_start_campaign(ACTOR, campaign, now=_at(9))
    dialer = Dialer()

    _steps(dialer, _at(11.9))  # 12:54 in Paris: closed
    assert smtp.received == []
    _steps(dialer, _at(12 + 1 / 60))  # 13:01 in Paris: open, and nobody had to resume it
    dialer.close()
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@example.com", "bob@example.com"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_with_contact_time_zones_each_contact_gets_the_message_in_their_own_window(
    smtp, make_campaign
):
    tokyo = make_list("Tokyo", ["ann@example.com"], timezone="Asia/Tokyo")
    new_york = make_list("New York", ["bob@example.com"], timezone="America/New_York")
    campaign = make_campaign([tokyo, new_york], windows=AFTERNOONS, window_zone="contact")
    actions.do_start_campaign(ACTOR, campaign, now=_at(0))
    dialer = Dialer()

    _steps(dialer, _at(4.5))  # 13:30 in Tokyo, 23:30 on Sunday in New York
    assert [r.rcpt_tos[0] for r in smtp.received] == ["ann@example.com"]
    bob = Delivery.objects.get(email="bob@example.com")
    assert bob.state == "queued"
    assert bob.due_at == _at(18)  # 13:00 in New York (UTC-5 in November)

    _steps(dialer, _at(17.9))  # 12:54 in New York: still closed
    assert len(smtp.received) == 1
    _steps(dialer, _at(18.1))
    dialer.close()
    assert [r.rcpt_tos[0] for r in smtp.received] == ["ann@example.com", "bob@example.com"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED

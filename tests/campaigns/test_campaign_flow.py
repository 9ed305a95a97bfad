"""A campaign from start to completed over a real SMTP server."""

from __future__ import annotations

import email
from email import policy

import pytest

from herald.campaigns import actions, tokens
from herald.campaigns.models import CampaignStatus, Delivery, Event
from herald.contacts.models import Suppression
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db


def test_a_started_campaign_sends_one_message_per_address_and_completes(smtp, make_campaign):
    customers = make_list(
        "Customers", ["ann@example.com", "bob@example.com", ["cy@example.com", "cy2@example.com"]]
    )
    campaign = make_campaign([customers])
    actions.do_start_campaign(ACTOR, campaign)
    dialer = drain()
    dialer.close()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    got = sorted(r.rcpt_tos[0] for r in smtp.received)
    assert got == ["ann@example.com", "bob@example.com", "cy@example.com"]
    message = email.message_from_bytes(smtp.received[0].content, policy=policy.default)
    delivery = Delivery.objects.get(email=message["To"])
    assert message["Message-ID"] == tokens.message_id(delivery.id, "herald.test")
    assert tokens.reply_token(delivery.id) in message["Reply-To"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello P" in message.get_body(("html",)).get_content()
    assert Event.objects.filter(campaign=campaign, kind="sent").count() == 3


def test_suppressed_and_duplicate_addresses_are_skipped_with_their_reason(smtp, make_campaign):
    Suppression.objects.create(value="bob@example.com", reason="unsubscribed", source="user")
    first = make_list("A", ["ann@example.com", "bob@example.com"])
    second = make_list("B", ["ANN@example.com", "dee@example.com"])
    campaign = make_campaign([first, second])
    actions.do_start_campaign(ACTOR, campaign)
    states = dict(Delivery.objects.values_list("email", "state"))
    assert len(states) == 3
    assert states["bob@example.com"] == "skipped"
    assert Delivery.objects.get(email="bob@example.com").reason == "suppressed: unsubscribed"
    drain().close()
    assert sorted(r.rcpt_tos[0].lower() for r in smtp.received) == [
        "ann@example.com",
        "dee@example.com",
    ]

"""The home page shows what needs the user now, most urgent first, each with the link to where
it is dealt with; on a new Herald a manager sees the first steps instead of an empty page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from herald.campaigns.models import Campaign
from herald.conversations import actions as desk_actions
from herald.conversations.models import Conversation
from herald.inbound.models import InboundMessage
from herald.mailboxes.models import Mailbox
from tests import test_access_matrix as objects
from tests.campaigns import conftest as campaign_fixtures
from tests.conversations import conftest as desk_fixtures

pytestmark = pytest.mark.django_db
smtp, mailbox = campaign_fixtures.smtp, campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign
desk, bob, customer_mail = desk_fixtures.desk, desk_fixtures.bob, desk_fixtures.customer_mail


def home(client) -> str:
    return client.get("/").content.decode()


def test_an_agent_sees_the_queue_then_what_waits_for_them(client_for, alice, desk):
    assert 'data-testid="all-clear"' in home(client_for(alice))
    conversation = customer_mail(desk, "Where is my parcel?")
    Conversation.objects.filter(pk=conversation.pk).update(
        waiting_since=timezone.now() - dt.timedelta(minutes=75)
    )
    page = home(client_for(alice))
    assert "1 conversation waits for an agent, the oldest for 75 min." in page
    assert 'class="attention-critical"' in page  # over an hour
    desk_actions.do_take(alice, conversation)
    page = home(client_for(alice))
    assert "1 of your conversations waits for your answer." in page
    assert "waits for an agent" not in page


def test_a_manager_sees_stopped_campaigns_and_failures_first(client_for, mike, make_campaign):
    campaign = make_campaign([campaign_fixtures.make_list("L", ["ann@example.com"])])
    Campaign.objects.filter(pk=campaign.pk).update(
        status="paused", status_reason="8 of the last 10 messages failed"
    )
    made = objects._conversation({"agent": mike})
    InboundMessage.objects.filter(pk=made.inbound.pk).update(status="quarantined", error="x")
    Mailbox.objects.filter(pk=campaign.mailbox_id).update(oauth_error="sign in again")
    page = home(client_for(mike))
    assert "Campaign Spring offer is paused: 8 of the last 10 messages failed" in page
    assert "1 received message could not be processed (quarantine)." in page
    assert f"Mailbox {campaign.mailbox.name} cannot log in or read mail." in page
    assert page.index("quarantine") < page.index("is paused")  # critical before warnings


def test_a_new_herald_shows_a_manager_the_first_steps(client_for, mike, alice):
    assert 'data-testid="first-steps"' in home(client_for(mike))
    assert 'data-testid="first-steps"' not in home(client_for(alice))

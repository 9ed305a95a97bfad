"""Campaigns paced by what agents can answer: the arithmetic on known figures, and a campaign
paced by the agents of its mailbox as the receiving SMTP server sees it: nothing while nobody
is available to answer, then no faster than the agents' pace."""

from __future__ import annotations

import time

import pytest

from herald.accounts.models import User
from herald.campaigns import actions as campaign_actions
from herald.campaigns.models import Campaign
from herald.conversations import actions
from herald.conversations.models import MailboxMember
from herald.dialer.sender import Dialer
from herald.mailboxes.models import Mailbox
from herald.routing import actions as routing
from herald.routing import capacity
from herald.routing.capacity import Observed, pace
from tests.campaigns.conftest import ACTOR, drain, make_list
from tests.dialer.smtpd import SmtpServer


def observed(**figures: int | float | None) -> Observed:
    defaults: dict = {
        "slots": 10,
        "agents": 5,
        "sent": 0,
        "recent": 0,
        "replies": 0,
        "handling_s": None,
        "queue": 0,
        "target_s": 3600,
    }
    return Observed(**{**defaults, **figures})


def test_before_any_reply_the_prior_sets_a_sensible_pace() -> None:
    # 10 conversations at once, 300 s each (the prior): 1/30 per second; 5 % reply: 40/min.
    found = pace(observed())
    assert found.per_minute == pytest.approx(40)
    assert found.explain() == (
        "40/min: 5 agents available, reply rate 5.0 %, handling time 300 s, queue 0"
    )


def test_the_observed_reply_rate_and_handling_time_take_over() -> None:
    found = pace(observed(sent=10_000, replies=300, handling_s=600.0))
    assert found.reply_rate == pytest.approx(310 / 10_200)
    assert found.per_second == pytest.approx((10 / 600) / (310 / 10_200))


def test_a_queue_slows_the_campaign_and_nobody_available_stops_it() -> None:
    assert pace(observed(queue=60)).per_minute == pytest.approx(20)  # half goes to the queue
    assert pace(observed(queue=1000)).per_second == 0.0
    stopped = pace(observed(agents=0, slots=0))
    assert stopped.per_second == 0.0
    assert stopped.explain() == "0/min: no agent available to answer the replies"


@pytest.mark.django_db(transaction=True)
def test_a_campaign_paced_by_agents_waits_for_one_and_then_holds_their_pace_at_the_server(
    mailbox: Mailbox, smtp: SmtpServer, alice: User, make_campaign, client_for, mike
) -> None:
    actions.do_set_members(ACTOR, [alice], [mailbox], add=True)
    member = MailboxMember.objects.get(mailbox=mailbox, user=alice)
    actions.do_set_member_limit(ACTOR, member, capacity=30)  # 30 / 300 s / 5 % = 2 per second
    emails = [f"p{i}@example.com" for i in range(40)]
    campaign: Campaign = make_campaign([make_list("Customers", emails)], pace_by_agents_of=mailbox)
    campaign_actions.do_start_campaign(ACTOR, campaign)

    capacity._cache.clear()
    drain().close()
    assert smtp.received == []  # nobody to answer: nothing goes
    page = client_for(mike).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "no agent available to answer the replies" in page

    routing.do_set_presence(alice, "available")
    capacity._cache.clear()
    dialer = Dialer()
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        dialer.step()
        time.sleep(0.05)
    dialer.close()
    arrivals = sorted(r.arrived for r in smtp.received)
    assert arrivals, "an available agent lets the campaign go"
    span = arrivals[-1] - arrivals[0]
    # One every 0.5 s at most, as received (unpaced, all 40 would be there at once).
    assert len(arrivals) <= 2 * span + 1.5
    assert len(arrivals) < len(emails)
    # The page says why: the reply rate's prior now weighs against the messages sent.
    sent = len(arrivals)
    expected = capacity.Pace(30 / 300 / capacity.reply_rate(sent, 0, sent), 1, 0, 0, 0).per_minute
    page = client_for(mike).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f"{expected:.0f}/min: 1 agent available, reply rate" in page

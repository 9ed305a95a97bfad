"""What a supervisor sees (page, API, /metrics) and what an agent sets (presence): the figures
are checked against conversations whose times are known, so each number is one a user would
notice if it were wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from herald.accounts.models import User
from herald.conversations import actions
from herald.conversations.models import Conversation
from herald.mailboxes.models import Mailbox
from herald.routing import actions as routing
from herald.routing import queries
from herald.routing.middleware import recent_writes
from herald.routing.models import Presence
from tests.routing.conftest import customer_mail

pytestmark = pytest.mark.django_db(transaction=True)
HOUR = dt.timedelta(hours=1)


def started(mailbox: Mailbox, n: int, ago: dt.timedelta, answered_after: dt.timedelta | None):
    """A customer conversation begun ``ago``, first answered ``answered_after`` it began."""
    conversation = customer_mail(mailbox, "hello", sender=f"s{n}@example.org", subject=f"#{n}")
    begun = timezone.now() - ago
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=begun,
        waiting_since=None if answered_after is not None else begun,
        first_answer_at=begun + answered_after if answered_after is not None else None,
    )
    return conversation


def test_the_service_level_counts_answers_within_target_and_late_or_missing_ones(
    desk: Mailbox, alice: User
) -> None:
    Mailbox.objects.filter(pk=desk.pk).update(service_level_seconds=3600)
    desk.refresh_from_db()
    now = timezone.now()
    started(desk, 1, dt.timedelta(minutes=30), dt.timedelta(minutes=10))  # met
    started(desk, 2, dt.timedelta(minutes=20), dt.timedelta(minutes=5))  # met
    started(desk, 3, 3 * HOUR, 2 * HOUR)  # answered late: missed
    started(desk, 4, 2 * HOUR, None)  # unanswered past the target: missed
    started(desk, 5, dt.timedelta(minutes=5), None)  # unanswered, still in time: not counted
    since = now - 4 * HOUR
    assert queries.service_level(desk, since, now) == 50.0  # 2 of 4
    assert queries.service_level(desk, now - HOUR, now) == 100.0  # the last hour: 1 and 2
    assert queries.service_level(desk, now, now) is None


def test_waiting_thresholds_colour_the_queue(desk: Mailbox) -> None:
    Mailbox.objects.filter(pk=desk.pk).update(wait_warning_seconds=600, wait_critical_seconds=1800)
    desk.refresh_from_db()
    fresh = started(desk, 1, dt.timedelta(seconds=30), None)
    assert queries.mailbox_figures(desk).level == "ok"
    Conversation.objects.filter(pk=fresh.pk).update(
        waiting_since=timezone.now() - dt.timedelta(seconds=700)
    )
    figures = queries.mailbox_figures(desk)
    assert (figures.level, figures.queue, figures.waiting) == ("warning", 1, 1)
    assert 700 <= figures.oldest_waiting_s < 760
    Conversation.objects.filter(pk=fresh.pk).update(waiting_since=timezone.now() - HOUR)
    assert queries.mailbox_figures(desk).level == "critical"


def test_agent_figures_load_capacity_handled_and_medians(desk: Mailbox, alice: User) -> None:
    Mailbox.objects.filter(pk=desk.pk).update(agent_capacity=4)
    desk.refresh_from_db()
    routing.do_set_presence(alice, "available")
    held = [customer_mail(desk, "q", sender=f"h{n}@example.org") for n in range(3)]
    for conversation in held:
        actions.do_take(alice, conversation)
    actions.do_answer(alice, held[0], actions.Answer(mode="reply", html="<p>Hi</p>"))
    Conversation.objects.filter(pk=held[0].pk).update(
        assigned_at=timezone.now() - dt.timedelta(seconds=120)
    )
    actions.do_close(alice, held[0], reason=None)

    (agent,) = [a for a in queries.mailbox_figures(desk).agents if a.name == str(alice)]
    assert agent.presence == "available"
    assert (agent.load, agent.capacity, agent.handled_today) == (2, 4, 1)
    assert agent.median_handling_s is not None
    assert 119 <= agent.median_handling_s < 180
    assert agent.median_first_response_s is not None


def test_the_supervisor_page_api_and_metrics_show_the_same_queue(
    routed: Mailbox, alice: User, bob: User, mike: User, client_for, api_for
) -> None:
    routing.do_set_presence(bob, "away")
    for n in range(4):  # alice takes 2 (her capacity), 2 wait
        customer_mail(routed, "q", sender=f"q{n}@example.org", subject=f"#{n}")

    page = client_for(mike).get("/supervisor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="queue-length">2<' in html
    assert 'data-testid="agent-load">2/2<' in html
    live = client_for(mike).get("/supervisor/live/")
    assert 'data-testid="queue-length">2<' in live.content.decode()

    body = api_for(mike).get("/api/v1/supervisor").json()
    (offers,) = body["mailboxes"]
    assert offers["queue"] == 2
    assert {a["name"]: (a["presence"], a["load"]) for a in offers["agents"]} == {
        str(alice): ("available", 2),
        str(bob): ("away", 0),
    }
    assert api_for(alice).get("/api/v1/supervisor").status_code == 403

    metrics = client_for(None).get("/metrics").content.decode()
    assert f'herald_queue_conversations{{mailbox="{routed.name}"}} 2.0' in metrics
    assert f'herald_agents_available{{mailbox="{routed.name}"}} 1.0' in metrics


def test_an_agent_sets_presence_in_the_header_and_logging_out_sets_offline(
    desk: Mailbox, alice: User, client_for
) -> None:
    client = client_for(alice)
    page = client.get("/conversations/").content.decode()
    assert 'data-testid="presence"' in page  # she works a mailbox: the selector is there
    response = client.post("/presence/", {"status": "available", "next": "/conversations/"})
    assert response.status_code == 302
    assert Presence.objects.get(user=alice).status == "available"
    client.post("/logout/")
    assert Presence.objects.get(user=alice).status == "offline"


def test_presence_through_the_api(desk: Mailbox, alice: User, mike: User, api_for) -> None:
    answer = api_for(alice).put(
        "/api/v1/presence", {"status": "away"}, content_type="application/json"
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "away"
    bad = api_for(alice).put(
        "/api/v1/presence", {"status": "asleep"}, content_type="application/json"
    )
    assert bad.status_code == 422
    listed = api_for(mike).get("/api/v1/presence").json()
    assert {"user_id": alice.pk, "email": alice.email, "status": "away"} in listed


def test_activity_keeps_an_agent_present_and_idleness_does_not(
    desk: Mailbox, alice: User, client_for
) -> None:
    routing.do_set_presence(alice, "available")
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Presence.objects.filter(user=alice).update(last_seen=long_ago)
    recent_writes.clear()  # this process may have noted her activity in an earlier test
    client_for(alice).get("/conversations/")
    assert Presence.objects.get(user=alice).last_seen > long_ago
    routing.sweep()
    assert Presence.objects.get(user=alice).status == "available"

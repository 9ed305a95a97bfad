"""Routing in the database, as agents and customers see it: who gets each conversation as mail
arrives, capacity freed by closing or setting pending pulls the next one at once, presence,
the offline grace time, the pause after closing, returning customers, and refusals at capacity.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from herald.accounts.models import User
from herald.conversations import actions
from herald.conversations.models import Conversation, ConversationEvent, MailboxMember
from herald.mailboxes.models import Mailbox
from herald.routing import actions as routing
from herald.routing.models import Presence, PresenceChange
from tests.routing.conftest import customer_mail

pytestmark = pytest.mark.django_db(transaction=True)


def arrive(mailbox: Mailbox, n: int) -> Conversation:
    return customer_mail(mailbox, f"question {n}", sender=f"c{n}@example.org", subject=f"#{n}")


def holder(conversation: Conversation) -> str | None:
    conversation.refresh_from_db()
    return conversation.assignee.email if conversation.assignee else None


def test_arriving_conversations_go_to_the_least_loaded_in_turn_and_wait_beyond_capacity(
    routed: Mailbox, alice: User, bob: User
) -> None:
    got = [holder(arrive(routed, n)) for n in range(5)]
    assert got == [
        "alice@example.com",  # equal load, neither assigned yet: the first agent
        "bob@example.com",
        "alice@example.com",
        "bob@example.com",
        None,  # both at capacity 2: it waits in the queue
    ]
    event = ConversationEvent.objects.filter(kind="assigned").first()
    assert event is not None
    assert event.actor_label == "routing"


def test_closing_or_setting_pending_pulls_the_oldest_waiting_at_once(
    routed: Mailbox, alice: User, bob: User
) -> None:
    first = [arrive(routed, n) for n in range(4)]
    oldest, newer = arrive(routed, 10), arrive(routed, 11)
    assert holder(oldest) is None
    assert holder(newer) is None

    actions.do_close(alice, first[0], reason=None)
    assert holder(oldest) == "alice@example.com"  # no sweep: at once, and the oldest first
    assert holder(newer) is None

    actions.do_set_status(bob, first[1], "pending")
    assert holder(newer) == "bob@example.com"


def test_an_agent_away_is_not_offered_work_and_gets_it_on_becoming_available(
    routed: Mailbox, alice: User, bob: User
) -> None:
    routing.do_set_presence(bob, "away")
    conversations = [arrive(routed, n) for n in range(3)]
    assert [holder(c) for c in conversations] == ["alice@example.com", "alice@example.com", None]

    routing.do_set_presence(bob, "available")
    assert holder(conversations[2]) == "bob@example.com"
    assert list(PresenceChange.objects.filter(user=bob).values_list("status", flat=True)) == [
        "available",
        "away",
        "available",
    ]


def test_an_offline_agent_gives_back_unanswered_conversations_after_the_grace_time(
    routed: Mailbox, alice: User, bob: User
) -> None:
    routing.do_set_presence(bob, "away")
    held = [arrive(routed, n) for n in range(2)]  # both to alice
    answered = held[1]
    actions.do_answer(alice, answered, actions.Answer(mode="reply", html="<p>Done</p>"))
    routing.do_set_presence(bob, "available")
    routing.do_set_presence(alice, "offline")

    routing.sweep()  # within the grace time: nothing moves
    assert holder(held[0]) == "alice@example.com"

    Presence.objects.filter(user=alice).update(
        since=timezone.now() - dt.timedelta(seconds=routed.offline_grace_seconds + 1)
    )
    routing.sweep()
    assert holder(held[0]) == "bob@example.com"  # unanswered: back to the queue, then routed
    assert holder(answered) == "alice@example.com"  # answered: she keeps it
    back = ConversationEvent.objects.get(conversation=held[0], kind="unassigned")
    assert "offline" in back.detail


def test_an_idle_agent_goes_offline_and_is_no_longer_offered_work(
    routed: Mailbox, alice: User, bob: User
) -> None:
    Presence.objects.filter(user=bob).update(last_seen=timezone.now() - dt.timedelta(hours=1))
    routing.sweep()
    assert Presence.objects.get(user=bob).status == "offline"
    assert PresenceChange.objects.filter(user=bob, by="idle").exists()
    assert [holder(arrive(routed, n)) for n in range(2)] == ["alice@example.com"] * 2


def test_taking_and_assigning_are_refused_at_capacity(
    routed: Mailbox, alice: User, bob: User, mike: User
) -> None:
    routing.do_set_presence(bob, "offline")
    routing.do_set_presence(alice, "offline")
    waiting = [arrive(routed, n) for n in range(3)]
    for conversation in waiting[:2]:
        actions.do_take(alice, conversation)
    with pytest.raises(actions.Refused, match="holds 2 open conversations"):
        actions.do_take(alice, waiting[2])
    with pytest.raises(ValidationError, match="holds 2 open conversations"):
        actions.do_assign(mike, waiting[2], alice)
    member = MailboxMember.objects.get(mailbox=routed, user=alice)
    actions.do_set_member_limit(actions.Actor.system("test"), member, capacity=3)
    actions.do_take(alice, waiting[2])  # her own capacity wins over the mailbox's
    assert holder(waiting[2]) == "alice@example.com"


def test_a_customer_reopening_a_pending_conversation_of_a_full_agent_goes_to_the_queue(
    routed: Mailbox, alice: User, bob: User
) -> None:
    routing.do_set_presence(bob, "offline")
    pending = arrive(routed, 1)
    actions.do_set_status(alice, pending, "pending")
    held = [arrive(routed, n) for n in (2, 3)]  # alice at capacity again
    assert [holder(c) for c in held] == ["alice@example.com"] * 2

    again = customer_mail(routed, "any news?", sender="c1@example.org", subject="#1")
    assert again.pk == pending.pk
    assert holder(pending) is None  # not a third one for alice: it waits for room
    routing.do_set_presence(bob, "available")
    assert holder(pending) == "bob@example.com"


def test_the_pause_after_closing_delays_the_next_conversation(
    routed: Mailbox, alice: User, bob: User
) -> None:
    Mailbox.objects.filter(pk=routed.pk).update(rest_seconds=60, agent_capacity=1)
    routing.do_set_presence(bob, "offline")
    first, second = arrive(routed, 1), arrive(routed, 2)
    actions.do_close(alice, Conversation.objects.get(pk=first.pk), reason=None)
    assert holder(second) is None  # alice pauses

    MailboxMember.objects.filter(user=alice).update(rest_until=timezone.now())
    routing.sweep()
    assert holder(second) == "alice@example.com"


def test_a_returning_customer_goes_to_their_last_agent_when_they_have_room(
    routed: Mailbox, alice: User, bob: User
) -> None:
    Mailbox.objects.filter(pk=routed.pk).update(return_to_last_agent=True)
    first = arrive(routed, 1)
    assert holder(first) == "alice@example.com"
    actions.do_close(alice, Conversation.objects.get(pk=first.pk), reason=None)
    # One each, alice last: by the rules alone, bob would get the next one.
    assert [holder(arrive(routed, n)) for n in (2, 3)] == ["bob@example.com", "alice@example.com"]
    returning = customer_mail(routed, "me again", sender="c1@example.org", subject="#1 again")
    assert returning.pk != first.pk
    assert holder(returning) == "alice@example.com"


def test_a_mailbox_without_auto_assignment_is_left_to_agents(desk: Mailbox, alice: User) -> None:
    routing.do_set_presence(alice, "available")
    assert holder(arrive(desk, 1)) is None
    assert routing.sweep() is False


def test_automatic_assignment_needs_assignment_mode(desk: Mailbox) -> None:
    from herald.mailboxes.actions import do_save_mailbox

    with pytest.raises(ValidationError, match="needs the assignment inbox mode"):
        do_save_mailbox(
            actions.Actor.system("test"), desk, {"desk_mode": "open", "auto_assign": True}
        )
    desk.refresh_from_db()
    assert (desk.desk_mode, desk.auto_assign) == ("assignment", False)

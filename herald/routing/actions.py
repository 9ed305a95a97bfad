"""Routing at work: presence, capacity checks, and handing waiting conversations to agents.

``route(mailbox_id)`` reads a mailbox's queue and its available agents, asks the pure policy
(``herald.routing.policy``) and writes its answer. It runs after every change that adds or frees
work (a customer's new conversation, a close, a pending, a reassign, an agent becoming available,
a setting changed: ``request_routing``, after commit), and every worker sweeps each second
(``sweep``) for what time alone changes: an agent idle long enough goes offline, an offline agent's
unanswered conversations go back to the queue after the mailbox's grace time, a pause after
closing ends.

Invariants, across any number of workers and web processes: an agent never holds more open
customer conversations of a mailbox than their capacity there, and a conversation has one
assignee. Every change of who holds what in a routed mailbox is made while holding the mailbox
row's lock (``FOR NO KEY UPDATE``, which does not block inserting rows that refer to it); on
SQLite, every write transaction is already exclusive (``transaction_mode = IMMEDIATE``). Locks
are taken in one order, conversation then mailbox, and ``route`` never waits on a conversation:
it skips the rows someone is changing (``SKIP LOCKED``) and the change that holds one routes
again when it commits.

Load is counted over *open customer* conversations: pending and snoozed ones wait for the
customer, and agent-started ones have their own limit (``Mailbox.max_outbound_open``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.accounts.models import Account, User
from herald.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    ConversationStatus,
    MailboxMember,
    Origin,
)
from herald.mailboxes.models import DeskMode, Mailbox
from herald.routing import policy
from herald.routing.models import Presence, PresenceChange, PresenceStatus

logger = logging.getLogger(__name__)

ROUTE_BATCH = 2000  # decisions written in one transaction; more are left to the next pass
SEEN_EVERY = dt.timedelta(seconds=30)  # how often a user's activity is written down
ROUTER_LABEL = "routing"


# -- presence ----------------------------------------------------------------------------------


@transaction.atomic
def do_set_presence(user: User, status: str, *, by: str = "") -> Presence:
    """Sets an agent's presence (``by``: who did it, when not the agent); an agent becoming
    available is offered the waiting conversations at once."""
    if status not in PresenceStatus.values:
        from django.core.exceptions import ValidationError

        raise ValidationError({"status": _("Unknown presence %(s)s.") % {"s": status}})
    now = timezone.now()
    row, _created = Presence.objects.select_for_update().get_or_create(
        user=user, defaults={"status": status, "since": now, "last_seen": now}
    )
    changed = _created or row.status != status
    if not _created:
        if row.status != status:
            row.status, row.since = status, now
        row.last_seen = now
        row.save(update_fields=["status", "since", "last_seen"])
    if changed:
        PresenceChange.objects.create(user=user, status=status, at=now, by=by or user.email)
        for mailbox in Mailbox.objects.filter(members__user=user):
            request_routing(mailbox)
    return row


def seen(user: User, now: dt.datetime | None = None) -> None:
    """Notes that ``user`` is active (at most one write per ``SEEN_EVERY``)."""
    now = now or timezone.now()
    Presence.objects.filter(user=user, last_seen__lt=now - SEEN_EVERY).update(last_seen=now)


def _idle_to_offline(now: dt.datetime) -> int:
    """Agents idle longer than the account's setting go offline; returns how many."""
    idle = dt.timedelta(seconds=Account.load().presence_idle_seconds)
    gone = list(
        Presence.objects.filter(
            status__in=[PresenceStatus.AVAILABLE, PresenceStatus.AWAY], last_seen__lt=now - idle
        ).values_list("user_id", flat=True)
    )
    if gone:
        Presence.objects.filter(user_id__in=gone).update(status=PresenceStatus.OFFLINE, since=now)
        PresenceChange.objects.bulk_create(
            PresenceChange(user_id=u, status=PresenceStatus.OFFLINE, at=now, by="idle")
            for u in gone
        )
    return len(gone)


# -- capacity ----------------------------------------------------------------------------------


def capacity_of(mailbox: Mailbox, member: MailboxMember | None) -> int | None:
    """An agent's capacity in a mailbox: their own setting, else the mailbox's (None: no
    limit; a non-member, a manager helping out, has none)."""
    if member is None:
        return None
    return member.capacity if member.capacity is not None else mailbox.agent_capacity


def load_query(mailbox_id: int) -> Q:
    """The conversations that count towards an agent's load in a mailbox."""
    return Q(mailbox_id=mailbox_id, status=ConversationStatus.OPEN, origin=Origin.INBOUND)


def loads(mailbox_id: int, user_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Conversation.objects.filter(load_query(mailbox_id), assignee_id__in=list(user_ids))
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return dict(rows)


def lock_mailbox(mailbox_id: int) -> Mailbox:
    """The mailbox row, locked until the transaction ends: changes of who holds what in it are
    made one at a time. Call it after locking the conversation concerned, never before."""
    return Mailbox.objects.select_for_update(no_key=True).get(pk=mailbox_id)


def room_refusal(mailbox_id: int, agent: User, *, adding: Conversation) -> str | None:
    """Why ``agent`` may not hold ``adding`` too (None: they may): it would put them above their
    capacity in its mailbox. Only open customer conversations count. Locks the mailbox when a
    capacity applies (see ``lock_mailbox``): call it inside the transaction making the change."""
    if adding.status != ConversationStatus.OPEN or adding.origin != Origin.INBOUND:
        return None
    member = MailboxMember.objects.filter(mailbox_id=mailbox_id, user=agent).first()
    if member is None:
        return None
    capacity = capacity_of(lock_mailbox(mailbox_id), member)
    if capacity is None:
        return None
    count = (
        Conversation.objects.filter(load_query(mailbox_id), assignee=agent)
        .exclude(pk=adding.pk)
        .count()
    )
    if count < capacity:
        return None
    return _("%(name)s holds %(n)d open conversations here, the most allowed.") % {
        "name": agent,
        "n": count,
    }


# -- routing -----------------------------------------------------------------------------------


def request_routing(mailbox: Mailbox) -> None:
    """Routes the mailbox once the current transaction commits (at once outside one); several
    requests in one transaction route once. Nothing for a mailbox that is not routed."""
    if not routed(mailbox):
        return
    mailbox_id = mailbox.pk
    # Django keeps the transaction's callbacks as (savepoints, callable, robust).
    if any(
        getattr(entry[1], "routes_mailbox", None) == mailbox_id
        for entry in connection.run_on_commit
    ):
        return

    def run() -> None:
        try:
            route(mailbox_id)
        except Exception:  # the sweep routes again within a second
            logger.exception("routing failed", extra={"mailbox": mailbox_id})

    run.routes_mailbox = mailbox_id  # type: ignore[attr-defined]
    transaction.on_commit(run)


def routed(mailbox: Mailbox) -> bool:
    """Whether the mailbox's conversations are assigned by routing."""
    return mailbox.auto_assign and mailbox.desk_mode == DeskMode.ASSIGNMENT and mailbox.enabled


def route(mailbox_id: int, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """Assigns what waits in a mailbox's queue to its agents with room, by the policy; returns
    the (conversation, agent) decisions written. Nothing when the mailbox is not routed."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update(no_key=True).filter(pk=mailbox_id).first()
        if mailbox is None or not routed(mailbox):
            return []
        now = now or timezone.now()
        agents = _offered(mailbox, now)
        room = sum(ROUTE_BATCH if a.free is None else a.free for a in agents)
        if not room:
            return []
        waiting = _queue(mailbox, min(room, ROUTE_BATCH))
        decisions = policy.assign(waiting, agents)
        if decisions:
            _write(mailbox, decisions, now)
        return decisions


def _offered(mailbox: Mailbox, now: dt.datetime) -> list[policy.Agent]:
    """The members who may be offered work now: active, available, not pausing."""
    members = list(
        MailboxMember.objects.filter(
            mailbox=mailbox,
            user__is_active=True,
            user_id__in=Presence.objects.filter(status=PresenceStatus.AVAILABLE).values("user_id"),
        )
        .filter(Q(rest_until__isnull=True) | Q(rest_until__lte=now))
        .only("user_id", "capacity", "last_assigned_at")
    )
    held = loads(mailbox.pk, [m.user_id for m in members])
    return [
        policy.Agent(
            id=m.user_id,
            load=held.get(m.user_id, 0),
            capacity=capacity_of(mailbox, m),
            turn=m.last_assigned_at.timestamp() if m.last_assigned_at else 0.0,
        )
        for m in members
    ]


def queue(mailbox_id: int) -> Q:
    """The conversations waiting in a mailbox's queue: open, unassigned, a customer waiting."""
    return Q(
        mailbox_id=mailbox_id,
        status=ConversationStatus.OPEN,
        assignee__isnull=True,
        waiting_since__isnull=False,
    )


def _queue(mailbox: Mailbox, limit: int) -> list[policy.Waiting]:
    rows = (
        Conversation.objects.filter(queue(mailbox.pk))
        .order_by("waiting_since", "id")
        .select_for_update(of=("self",), skip_locked=True)
    )
    fields = ["id", "waiting_since"]
    if mailbox.return_to_last_agent:
        fields.append("previous__assignee_id")
    waiting = []
    for row in rows.values_list(*fields)[:limit]:
        waiting.append(
            policy.Waiting(
                id=row[0],
                since=row[1].timestamp(),
                preferred=row[2] if mailbox.return_to_last_agent else None,
            )
        )
    return waiting


def _write(mailbox: Mailbox, decisions: list[tuple[int, int]], now: dt.datetime) -> None:
    by_agent: dict[int, list[int]] = defaultdict(list)
    last_turn: dict[int, int] = {}
    for n, (conversation_id, agent_id) in enumerate(decisions):
        by_agent[agent_id].append(conversation_id)
        last_turn[agent_id] = n
    names = dict(User.objects.filter(pk__in=by_agent).values_list("pk", "email"))
    for agent_id, ids in by_agent.items():
        Conversation.objects.filter(pk__in=ids, assignee__isnull=True).update(
            assignee_id=agent_id, assigned_at=now
        )
        # Decisions of one pass keep their order for the next pass's ties.
        turn = now + dt.timedelta(microseconds=last_turn[agent_id])
        MailboxMember.objects.filter(mailbox=mailbox, user_id=agent_id).update(
            last_assigned_at=turn
        )
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                conversation_id=conversation_id,
                kind=ConversationEventKind.ASSIGNED,
                at=now,
                actor_label=ROUTER_LABEL,
                detail=names.get(agent_id, ""),
                data={"agent": agent_id, "routed": True},
            )
            for conversation_id, agent_id in decisions
        ],
        batch_size=500,
    )


def return_unanswered(mailbox: Mailbox, now: dt.datetime) -> int:
    """Puts back in the queue the unanswered conversations of the members offline for longer
    than the mailbox's grace time; returns how many."""
    cutoff = now - dt.timedelta(seconds=mailbox.offline_grace_seconds)
    still_here = Presence.objects.filter(
        Q(status__in=[PresenceStatus.AVAILABLE, PresenceStatus.AWAY]) | Q(since__gt=cutoff)
    ).values("user_id")
    gone = MailboxMember.objects.filter(mailbox=mailbox).exclude(user_id__in=still_here)
    rows = list(
        Conversation.objects.filter(
            load_query(mailbox.pk),
            assignee_id__in=gone.values("user_id"),
            waiting_since__isnull=False,
        )
        .select_for_update(of=("self",), skip_locked=True)
        .values_list("id", "assignee__email")[:ROUTE_BATCH]
    )
    if not rows:
        return 0
    Conversation.objects.filter(pk__in=[r[0] for r in rows]).update(assignee=None, assigned_at=None)
    ConversationEvent.objects.bulk_create(
        ConversationEvent(
            conversation_id=conversation_id,
            kind=ConversationEventKind.UNASSIGNED,
            at=now,
            actor_label=ROUTER_LABEL,
            detail=_("%(name)s is offline: back to the queue") % {"name": email},
        )
        for conversation_id, email in rows
    )
    return len(rows)


def sweep() -> bool:
    """One pass of every worker's routing loop (see the module's docstring); True when more
    is waiting than one pass assigns."""
    now = timezone.now()
    _idle_to_offline(now)
    more = False
    for mailbox_id in Mailbox.objects.filter(
        auto_assign=True, desk_mode=DeskMode.ASSIGNMENT, enabled=True
    ).values_list("pk", flat=True):
        with transaction.atomic():
            mailbox = lock_mailbox(mailbox_id)
            return_unanswered(mailbox, now)
        more |= len(route(mailbox_id, now)) >= ROUTE_BATCH
    return more

"""Routing under load, with real processes: 20 agents, 2,000 customer conversations arriving in
bursts of 200, three worker processes (tests/routing/sim_worker.py) running the routing sweep and
playing agents who close conversations at random, and agents going away and coming back.

A sampler reads consistent snapshots of the database all along and checks the invariants:
nobody ever holds more open conversations than their capacity, and no conversation waits longer
than 2 s while an available agent has room. At the end, every conversation was routed exactly
once at a time and all were closed. Runs on SQLite and, in make test's second pass, PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from herald.accounts.models import Role, User
from herald.conversations import actions
from herald.conversations.models import (
    Conversation,
    ConversationEvent,
    Direction,
    MailboxMember,
    MessageKind,
)
from herald.mailboxes.models import Mailbox
from herald.routing import actions as routing
from herald.routing.models import Presence
from tests.conftest import PASSWORD
from tests.dialer.test_pacing_workers import REPO, database_url

pytestmark = pytest.mark.django_db(transaction=True)

AGENTS = 20
TOTAL = 2000
BURST = 200
WORKERS = 3
LONGEST_WAIT = 2.0  # seconds a conversation may wait while someone available has room
SAMPLE_GAP = 0.5  # samples further apart than this cannot tell how long a wait lasted


@dataclass
class Findings:
    samples: int = 0
    over_capacity: list[str] = field(default_factory=list)
    waited_too_long: list[str] = field(default_factory=list)
    longest_wait_with_room: float = 0.0


def arrive(mailbox: Mailbox, n: int) -> None:
    """A customer's first message, stored as inbound processing stores it."""
    now = timezone.now()
    contact = actions.contact_for_address(f"customer{n}@example.org")
    conversation, _new = actions.open_conversation(mailbox, contact, subject=f"#{n}", at=now)
    actions.add_message(
        conversation,
        actions.NewMessage(
            kind=MessageKind.NEW,
            direction=Direction.IN,
            message_id=f"<sim-{n}@example.org>",
            in_reply_to="",
            from_address=f"customer{n}@example.org",
            to_address=mailbox.from_address,
            subject=f"#{n}",
            text="Hello, a question.",
            reason="",
            at=now,
        ),
    )


def snapshot(mailbox: Mailbox) -> tuple[dict[int, int], dict[int, int | None], set[int], set[int]]:
    """In one consistent read: each agent's load and capacity, who is available and not
    pausing, and the queue."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        box = Mailbox.objects.get(pk=mailbox.pk)
        now = timezone.now()
        members = list(MailboxMember.objects.filter(mailbox=box))
        capacity = {m.user_id: routing.capacity_of(box, m) for m in members}
        pausing = {m.user_id for m in members if m.rest_until and m.rest_until > now}
        loads = dict(
            Conversation.objects.filter(routing.load_query(box.pk), assignee__isnull=False)
            .values("assignee_id")
            .annotate(n=Count("id"))
            .values_list("assignee_id", "n")
        )
        available = set(
            Presence.objects.filter(status="available", user_id__in=capacity).values_list(
                "user_id", flat=True
            )
        )
        queue = set(Conversation.objects.filter(routing.queue(box.pk)).values_list("pk", flat=True))
    return loads, capacity, available - pausing, queue


def sample(mailbox: Mailbox, findings: Findings, stop: threading.Event) -> None:
    since: dict[int, float] = {}  # conversation: when it was first seen waiting while room
    last = time.monotonic()
    try:
        while not stop.is_set():
            loads, capacity, offered, queue = snapshot(mailbox)
            now = time.monotonic()
            findings.samples += 1
            for agent, load in loads.items():
                cap = capacity.get(agent)
                if cap is not None and load > cap:
                    findings.over_capacity.append(f"agent {agent}: {load} > {cap}")
            room = any(capacity[a] is None or loads.get(a, 0) < (capacity[a] or 0) for a in offered)
            if now - last > SAMPLE_GAP:
                since.clear()  # the sampler was held up: start measuring again
            last = now
            stuck = queue if room else set()
            since = {c: since.get(c, now) for c in stuck}
            for conversation, first in since.items():
                waited = now - first
                findings.longest_wait_with_room = max(findings.longest_wait_with_room, waited)
                if waited > LONGEST_WAIT:
                    findings.waited_too_long.append(f"#{conversation} {waited:.1f} s")
            time.sleep(0.02)
    finally:
        connection.close()


def test_twenty_agents_two_thousand_conversations_three_workers(desk: Mailbox) -> None:
    rng = random.Random(7)
    agents = [
        User.objects.create_user(
            email=f"agent{n}@example.com", password=PASSWORD, role=Role.AGENT, name=f"Agent {n}"
        )
        for n in range(AGENTS)
    ]
    actions.do_set_members(actions.Actor.system("test"), agents, [desk], add=True)
    for n, agent in enumerate(agents[:10]):  # five at 1, five at 5, the rest the mailbox's 3
        member = MailboxMember.objects.get(mailbox=desk, user=agent)
        actions.do_set_member_limit(actions.Actor.system("test"), member, capacity=1 + 4 * (n % 2))
    Mailbox.objects.filter(pk=desk.pk).update(auto_assign=True, agent_capacity=3)
    desk.refresh_from_db()
    for agent in agents:
        routing.do_set_presence(agent, "available")

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "HERALD_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.routing.sim_worker",
                f"--mailbox={desk.pk}",
                f"--total={TOTAL}",
                f"--seed={n}",
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n", worker.stderr.read() if worker.stderr else ""
    findings, stop = Findings(), threading.Event()
    sampler = threading.Thread(target=sample, args=(desk, findings, stop))
    sampler.start()
    try:
        start = time.time() + 0.2
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start!r}\n")
            worker.stdin.flush()
        away: list[User] = []
        for burst in range(TOTAL // BURST):
            for first in range(0, BURST, 20):  # ingestion commits in batches
                with transaction.atomic():
                    for n in range(first, first + 20):
                        arrive(desk, burst * BURST + n)
            # A few agents step away, and those away come back (capacity freed, and taken).
            for agent in away:
                routing.do_set_presence(agent, "available")
            away = rng.sample(agents, 3)
            for agent in away:
                routing.do_set_presence(agent, "away")
            time.sleep(rng.uniform(0.3, 1.0))
        for agent in away:
            routing.do_set_presence(agent, "available")
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        stop.set()
        sampler.join()
        for worker in workers:
            worker.kill()

    assert findings.samples > 50, "the sampler hardly ran"
    assert findings.over_capacity == []
    assert findings.waited_too_long == [], f"longest: {findings.longest_wait_with_room:.2f} s"
    assert sum(r["closed"] for r in results) == TOTAL
    assert Conversation.objects.filter(mailbox=desk).exclude(status="closed").count() == 0
    # Each was given by routing, and never to a second agent while one held it.
    history: dict[int, list[str]] = {}
    for conversation_id, kind in (
        ConversationEvent.objects.filter(kind__in=["assigned", "unassigned"])
        .order_by("id")
        .values_list("conversation_id", "kind")
    ):
        history.setdefault(conversation_id, []).append(kind)
    assert len(history) == TOTAL
    for kinds in history.values():
        assert kinds[0] == "assigned"
        assert all(a != b for a, b in itertools.pairwise(kinds)), kinds

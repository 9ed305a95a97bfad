"""`herald bench routing [--waiting N] [--agents N] [--database sqlite|postgres]`: how fast routing
hands waiting conversations to agents (herald.routing.actions.route, the code every worker runs).

Fills a fresh database with one auto-assigned mailbox, N agents (default 200) all available
with a capacity of 50, and N waiting conversations (default 10,000, the oldest first in line).

1. Burst: ``route`` is called until the queue is empty, as after a mass arrival; prints the
   assignment decisions written per second (target: 500 or more on PostgreSQL).
2. One at a time: with every agent at capacity and 5,000 still waiting, one conversation is
   closed and the mailbox routed, 300 times, as the desk does after each close; prints the
   p50/p99 of one routing pass (the decision and its writes).

The measuring half runs in a child `herald bench routing --child ...` on the fresh database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import time
from typing import Any

from _common import fresh_database, herald, peak_rss_mb

CAPACITY = 50
SINGLE_ROUNDS = 300


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald bench routing")
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--database", default="postgres", choices=["sqlite", "postgres"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: list[str]) -> dict[str, Any]:
    args = _parse(argv)
    if args.child:
        return _measure(args)
    with fresh_database(args.database) as env:
        try:
            herald(["migrate"], env)
            child = herald(["bench", "routing", "--child", *argv], env)
        finally:
            shutil.rmtree(env["HERALD_DATA_DIR"], ignore_errors=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return figures


def _fill(waiting: int, agents: int, start: int = 0) -> None:
    from django.db import connection
    from django.utils import timezone

    from herald.contacts.models import Contact
    from herald.conversations.models import Conversation
    from herald.mailboxes.models import Mailbox

    mailbox = Mailbox.objects.get(name="Routed")
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [Contact(first_name=f"C{n}") for n in range(start, start + waiting)], batch_size=2000
    )
    Conversation.objects.bulk_create(
        [
            Conversation(
                mailbox=mailbox,
                contact=contact,
                subject=f"#{start + n}",
                created_at=now - dt.timedelta(seconds=waiting - n),
                waiting_since=now - dt.timedelta(seconds=waiting - n),
            )
            for n, contact in enumerate(contacts)
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":  # as autovacuum would after such an insert
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations_conversation")


def _setup(args: argparse.Namespace) -> int:
    from herald.accounts.models import Role, User
    from herald.conversations.models import MailboxMember
    from herald.mailboxes.models import Mailbox
    from herald.routing.models import Presence

    mailbox = Mailbox.objects.create(
        name="Routed",
        from_address="desk@example.com",
        smtp_host="127.0.0.1",
        auto_assign=True,
        agent_capacity=CAPACITY,
    )
    users = User.objects.bulk_create(
        [
            User(email=f"agent{n}@example.com", role=Role.AGENT, name=f"Agent {n}")
            for n in range(args.agents)
        ]
    )
    MailboxMember.objects.bulk_create([MailboxMember(mailbox=mailbox, user=u) for u in users])
    Presence.objects.bulk_create([Presence(user=u, status="available") for u in users])
    _fill(args.waiting, args.agents)
    return mailbox.pk


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from herald.conversations.models import Conversation
    from herald.routing.actions import queue, route

    mailbox_id = _setup(args)
    started = time.perf_counter()
    decisions = 0
    while True:
        written = len(route(mailbox_id))
        if not written:
            break
        decisions += written
    burst_s = time.perf_counter() - started
    left = Conversation.objects.filter(queue(mailbox_id)).count()

    # One at a time: everyone full, 5,000 more waiting; close one, route, again.
    _fill(5000, args.agents, start=args.waiting)
    rng = random.Random(1)
    held = list(
        Conversation.objects.filter(mailbox_id=mailbox_id, assignee__isnull=False).values_list(
            "pk", flat=True
        )
    )
    one: list[float] = []
    single_decisions = 0
    for _ in range(SINGLE_ROUNDS):
        closing = held.pop(rng.randrange(len(held)))
        Conversation.objects.filter(pk=closing).update(status="closed", waiting_since=None)
        began = time.perf_counter()
        made = route(mailbox_id)
        one.append((time.perf_counter() - began) * 1000)
        single_decisions += len(made)
        held.extend(c for c, _a in made)
    one.sort()
    return {
        "database": connection.vendor,
        "waiting": args.waiting,
        "agents": args.agents,
        "burst_decisions": decisions,
        "burst_decisions_per_s": round(decisions / burst_s),
        "left_waiting": left,
        "one_at_a_time_decisions": single_decisions,
        "one_at_a_time_p50_ms": round(statistics.median(one), 1),
        "one_at_a_time_p99_ms": round(one[int(len(one) * 0.99) - 1], 1),
        "one_at_a_time_decisions_per_s": round(single_decisions / (sum(one) / 1000)),
        "peak_rss_mb": peak_rss_mb(),
    }

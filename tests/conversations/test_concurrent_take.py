"""Two processes sharing the database take the same 200 conversations at once, in opposite
orders so that they meet in the middle: each conversation is taken exactly once, by one agent,
and every refusal names the other. Runs on SQLite and, in make test's second pass, PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from herald.conversations.models import Conversation, ConversationEvent
from tests.conversations.conftest import customer_mail
from tests.dialer.test_pacing_workers import REPO, database_url

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = 200


def test_two_processes_taking_the_same_conversations_take_each_exactly_once(desk, alice, bob):
    ids = [
        customer_mail(desk, f"question {n}", sender=f"c{n}@example.org", subject=f"#{n}").pk
        for n in range(COUNT)
    ]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "HERALD_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.conversations.take_worker", "--agent", str(agent.pk)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for agent in (alice, bob)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n", p.stderr.read() if p.stderr else ""
    start = time.time() + 0.3
    for p, order in zip(procs, (ids, ids[::-1]), strict=True):
        assert p.stdin is not None
        p.stdin.write(f"{start!r}\n{' '.join(map(str, order))}\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    got = [set(r["got"]) for r in results]
    assert got[0].isdisjoint(got[1])
    assert got[0] | got[1] == set(ids)
    assert all(r["refused"] == COUNT - len(r["got"]) for r in results)
    holders = dict(Conversation.objects.filter(pk__in=ids).values_list("pk", "assignee_id"))
    assert {pk for pk, holder in holders.items() if holder == alice.pk} == got[0]
    assert ConversationEvent.objects.filter(kind="taken").count() == COUNT

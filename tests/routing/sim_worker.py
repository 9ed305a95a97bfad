"""A worker process of the routing simulation (tests/routing/test_simulation.py): it runs the
routing sweep every second, as every Herald worker does, and plays agents closing their
conversations at random. Once Django is set up it prints ``ready``, reads a start time (epoch
seconds) from stdin, works until every conversation of the mailbox given is closed (or the
deadline passes) and prints one JSON line: the conversations it closed.

Run with DATABASE_URL pointing at the test database: ``python -m tests.routing.sim_worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailbox", type=int, required=True)
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--deadline", type=float, default=240.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()

    from herald.accounts.models import User
    from herald.conversations import actions
    from herald.conversations.models import Conversation
    from herald.routing.actions import sweep

    rng = random.Random(args.seed)
    agents = {u.pk: u for u in User.objects.all()}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    start = float(sys.stdin.readline())
    time.sleep(max(0.0, start - time.time()))
    ours = Conversation.objects.filter(mailbox_id=args.mailbox)
    closed, next_sweep, deadline = 0, 0.0, time.time() + args.deadline
    while time.time() < deadline:
        if time.time() >= next_sweep:
            sweep()
            next_sweep = time.time() + 1.0
        held = list(
            ours.filter(status="open", assignee__isnull=False).values_list("pk", "assignee_id")[
                :300
            ]
        )
        if held:
            pk, agent = rng.choice(held)
            try:
                actions.do_close(agents[agent], Conversation(pk=pk), reason=None)
                closed += 1
            except actions.Refused:  # closed or given back meanwhile: another try
                pass
        elif ours.count() >= args.total and not ours.exclude(status="closed").exists():
            break
        time.sleep(rng.uniform(0.0, 0.03))
    sys.stdout.write(json.dumps({"closed": closed}) + "\n")


if __name__ == "__main__":
    main()

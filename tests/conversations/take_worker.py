"""A process taking conversations, for the concurrent-take test: once Django is set up it prints
``ready``, reads ``START`` (epoch seconds) from stdin so that every process begins together, then
tries to take each conversation id given on stdin's second line, as the agent ``--agent``, and
prints one JSON line: the ids it got and the number refused.

Run with DATABASE_URL pointing at the test database: ``python -m tests.conversations.take_worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()

    from herald.accounts.models import User
    from herald.conversations import actions
    from herald.conversations.models import Conversation

    agent = User.objects.get(pk=args.agent)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    start = float(sys.stdin.readline())
    ids = [int(i) for i in sys.stdin.readline().split()]
    conversations = {
        c.pk: c for c in Conversation.objects.select_related("mailbox").filter(pk__in=ids)
    }
    time.sleep(max(0.0, start - time.time()))
    got, refused = [], 0
    for conversation_id in ids:
        try:
            actions.do_take(agent, conversations[conversation_id])
            got.append(conversation_id)
        except actions.Refused:
            refused += 1
    sys.stdout.write(json.dumps({"agent": args.agent, "got": got, "refused": refused}) + "\n")


if __name__ == "__main__":
    main()

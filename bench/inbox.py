"""The agent desk at scale: `herald bench inbox [--conversations N] [--database sqlite|postgres]`.

Fills a fresh database with N conversations (default 1,000,000) and 5 messages each (5,000,000)
across 4 mailboxes, 300,000 contacts and 50 agents (bulk insert: SQLite executemany, PostgreSQL
COPY), then times, for each inbox view and search, the desk's query (``herald.conversations.
queries``: one page of 50 rows with their unread markers) and the whole inbox page through
Django's test client, as an agent working two mailboxes and as a manager; prints p50/p99 in ms
per case. Target: every case ≤ 150 ms.

Then, with Herald's worker running in the child (its task thread idle) and a mailbox pointing at
a local SMTP server that timestamps arrivals, it measures the time from an agent's "Send" (the
action's commit) to the answer's arrival: p50 target ≤ 1 s.

The measuring half runs in a child `herald bench inbox --child ...` pointed at the fresh database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import socket
import threading
import time
from typing import Any

from _common import fresh_database, herald, peak_rss_mb

BATCH = 10_000
CONTACTS = 300_000
MAILBOXES = 4
AGENTS = 50
MESSAGES_PER_CONVERSATION = 5
_WORDS = (
    "order invoice delivery parcel refund payment card account password login renewal contract "
    "offer discount price plan upgrade cancel subscription address phone email question thanks "
    "please help broken missing late tomorrow today monday week month number reference "
    "customer service support agent call back answer problem issue working charged twice wrong "
    "size colour return exchange warranty store online app update bill meter reading tariff "
    "energy gas electricity internet fibre mobile roaming data minutes "
)
VOCABULARY = tuple(_WORDS.split())
RARE_WORD = "zanzibar"  # in one conversation in 20,000
FIRST = "ada alice amir bruno chen chloe dana elif emma farid giulia hana ines ivan jonas karim"
LAST = "martin rossi haddad dubois bianchi nguyen moreau conti mansour lefebvre ricci garcia"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald bench inbox")
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per case")
    parser.add_argument("--replies", type=int, default=20, help="answers timed to the SMTP server")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: list[str]) -> dict[str, Any]:
    args = _parse(argv)
    if args.child:
        return _measure(args)
    with fresh_database(args.database) as env:
        try:
            herald(["migrate"], env)
            child = herald(["bench", "inbox", "--child", *argv], env)
        finally:
            shutil.rmtree(env["HERALD_DATA_DIR"], ignore_errors=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return figures


# -- the child: fill ---------------------------------------------------------------------------


def _setup() -> dict[str, Any]:
    from herald.accounts.models import Role, User
    from herald.audit.actors import Actor
    from herald.contacts.models import Address, Contact
    from herald.conversations.actions import do_set_members
    from herald.mailboxes.models import Mailbox

    actor = Actor.system("bench")
    mailboxes = [
        Mailbox.objects.create(
            name=f"Support {m}",
            from_address=f"support{m}@acme.example",
            smtp_host="127.0.0.1",
            smtp_port=2,
            smtp_security="none",
        )
        for m in range(MAILBOXES)
    ]
    agents = [
        User.objects.create_user(email=f"agent{a}@acme.example", role=Role.AGENT, name=f"agent{a}")
        for a in range(AGENTS)
    ]
    for a, agent in enumerate(agents):  # each agent works two mailboxes
        do_set_members(
            actor, [agent], [mailboxes[a % MAILBOXES], mailboxes[(a + 1) % MAILBOXES]], add=True
        )
    manager = User.objects.create_user(email="boss@acme.example", role=Role.MANAGER, name="boss")
    firsts, lasts = FIRST.split(), LAST.split()
    for start in range(0, CONTACTS, BATCH):
        contacts = Contact.objects.bulk_create(
            Contact(first_name=firsts[i % len(firsts)], last_name=f"{lasts[i % len(lasts)]}{i}")
            for i in range(start, min(CONTACTS, start + BATCH))
        )
        Address.objects.bulk_create(
            Address(
                contact=c,
                position=1,
                email=f"customer{start + k}@mail.example",
                email_key=f"customer{start + k}@mail.example",
                state="valid",
            )
            for k, c in enumerate(contacts)
        )
    first_contact = Contact.objects.order_by("id").values_list("id", flat=True).first()
    return {
        "mailboxes": [m.pk for m in mailboxes],
        "agents": [a.pk for a in agents],
        "manager": manager,
        "agent": agents[0],
        "first_contact": first_contact,
    }


CONVERSATION_COLUMNS = (
    "id, mailbox_id, contact_id, subject, status, created_at, last_message_at, assignee_id, "
    "origin, snoozed_until, waiting_since, last_inbound_at, cc, bcc, received_cc, wrapup_note, "
    "closed_at, search_text"
)
MESSAGE_COLUMNS = (
    "conversation_id, direction, kind, message_id, in_reply_to, from_address, to_address, "
    '"subject", text, body, html, reason, at, cc, bcc, "references", send_state, send_error, '
    "attempts, raw"
)


def _rows(n: int, setup: dict[str, Any], rng: random.Random, terms: set[str]) -> Any:
    """Each conversation and its messages; the words they are searched by go to ``terms``."""
    from herald.conversations.search import mailbox_word, words_of

    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=365)
    mailboxes, agents = setup["mailboxes"], setup["agents"]
    firsts, lasts = FIRST.split(), LAST.split()
    for i in range(1, n + 1):
        contact = i % CONTACTS
        mailbox = mailboxes[(i // CONTACTS) % MAILBOXES]
        created = now - span * (1 - i / n)
        roll = rng.random()
        status = (
            "open"
            if roll < 0.10
            else "pending"
            if roll < 0.16
            else "snoozed"
            if roll < 0.18
            else "closed"
        )
        assignee = rng.choice(agents) if status != "open" or rng.random() < 0.6 else None
        words = [rng.choice(VOCABULARY) for _ in range(4)]
        subject = " ".join(words[:3]).capitalize()
        email = f"customer{contact}@mail.example"
        texts = []
        messages = []
        at = created
        for k in range(MESSAGES_PER_CONVERSATION):
            body = " ".join(rng.choice(VOCABULARY) for _ in range(30))
            if k == 0 and i % 20_000 == 7:
                body += f" {RARE_WORD}"
            inbound = k % 2 == 0
            texts.append(body)
            messages.append(
                (
                    i,
                    "in" if inbound else "out",
                    "new" if inbound else "agent",
                    f"<m{i}.{k}@mail.example>",
                    "",
                    email if inbound else "",
                    "",
                    subject,
                    body,
                    body,
                    "",
                    "",
                    at,
                    "",
                    "",
                    "",
                    "" if inbound else "sent",
                    "",
                    0,
                    b"",
                )
            )
            at += dt.timedelta(minutes=rng.randrange(5, 600))
        last_in = messages[-1][12]
        waiting = created if status == "open" and assignee is None else None
        name = f"{firsts[contact % len(firsts)]} {lasts[contact % len(lasts)]}{contact}"
        words = words_of(" ".join([subject, name, email, *texts]))
        terms.update(words)
        search = " ".join([mailbox_word(mailbox), *words])
        conversation = (
            i,
            mailbox,
            setup["first_contact"] + contact,
            subject,
            status,
            created,
            at,
            assignee,
            "inbound",
            now + dt.timedelta(days=1) if status == "snoozed" else None,
            waiting,
            last_in,
            "",
            "",
            "",
            "",
            at if status == "closed" else None,
            search,
        )
        yield conversation, messages


def _fill(n: int, setup: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection, transaction

    from herald.conversations.search import remember

    rng = random.Random(7)
    terms: set[str] = set()
    started = time.perf_counter()
    with transaction.atomic():
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            _copy_postgres(connection, _rows(n, setup, rng, terms))
        else:
            _insert_sqlite(connection, _rows(n, setup, rng, terms))
        remember(terms)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE conversations_conversation")
            cursor.execute("ANALYZE conversations_message")
    fill_s = time.perf_counter() - started
    return {"fill_s": round(fill_s, 1), "fill_conversations_per_s": round(n / fill_s)}


def _insert_sqlite(connection: Any, rows: Any) -> None:
    raw = connection.connection
    conversation_sql = (
        f"INSERT INTO conversations_conversation ({CONVERSATION_COLUMNS}) "  # noqa: S608
        f"VALUES ({','.join('?' * 18)})"
    )
    message_sql = (
        f"INSERT INTO conversations_message ({MESSAGE_COLUMNS}) "  # noqa: S608
        f"VALUES ({','.join('?' * 20)})"
    )
    conversations: list[tuple] = []
    messages: list[tuple] = []

    def iso(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.datetime) else value

    for conversation, parts in rows:
        conversations.append(tuple(iso(v) for v in conversation))
        messages.extend(tuple(iso(v) for v in m) for m in parts)
        if len(conversations) >= BATCH:
            raw.executemany(conversation_sql, conversations)
            raw.executemany(message_sql, messages)
            conversations.clear()
            messages.clear()
    raw.executemany(conversation_sql, conversations)
    raw.executemany(message_sql, messages)


def _copy_postgres(connection: Any, rows: Any) -> None:
    conversations: list[tuple] = []
    messages: list[tuple] = []
    with connection.connection.cursor() as cursor:

        def flush() -> None:
            with cursor.copy(
                f"COPY conversations_conversation ({CONVERSATION_COLUMNS}) FROM STDIN"
            ) as copy:
                for row in conversations:
                    copy.write_row(row)
            with cursor.copy(f"COPY conversations_message ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
                for row in messages:
                    copy.write_row(row)
            conversations.clear()
            messages.clear()

        for conversation, parts in rows:
            conversations.append(conversation)
            messages.extend(parts)
            if len(conversations) >= BATCH:
                flush()
        flush()
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('conversations_conversation', 'id'), "
            "(SELECT MAX(id) FROM conversations_conversation))"
        )


# -- the child: time ---------------------------------------------------------------------------


def _cases(setup: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(case, who, query string): each inbox view and search, as an agent or the manager."""
    mailbox = str(setup["mailboxes"][1])
    return [
        ("agent_all_open", "agent", {"view": "all"}),
        ("agent_mine", "agent", {"view": "mine"}),
        ("agent_unassigned_oldest_waiting", "agent", {"view": "unassigned", "order": "waiting"}),
        ("agent_pending", "agent", {"view": "pending"}),
        ("agent_closed", "agent", {"view": "closed"}),
        ("agent_one_mailbox", "agent", {"view": "all", "mailbox": mailbox}),
        ("manager_all_open", "manager", {"view": "all"}),
        ("manager_closed_page_20", "manager", {"view": "closed", "page": "20"}),
        ("manager_agent_filter", "manager", {"view": "all", "agent": str(setup["agents"][3])}),
        ("search_rare_word", "manager", {"q": RARE_WORD}),
        ("search_common_word", "manager", {"q": "invoice"}),
        ("search_two_words", "agent", {"q": "refund parcel"}),
        ("search_customer_email", "manager", {"q": "customer123456@mail.example"}),
        ("search_customer_name", "agent", {"q": "rossi1201"}),
        ("search_no_match", "manager", {"q": "xylophone"}),
        ("search_common_word_open", "agent", {"q": "payment", "status": "open"}),
        ("search_dates", "manager", {"q": "refund", "since": "2026-06-01", "until": "2026-06-30"}),
    ]


def _timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _filter(params: dict[str, str]) -> Any:
    from django.utils.dateparse import parse_date

    from herald.conversations.queries import InboxFilter

    return InboxFilter(
        view=params.get("view", "all"),
        mailbox_id=int(params["mailbox"]) if "mailbox" in params else None,
        search=params.get("q", ""),
        status=params.get("status", ""),
        agent_id=int(params["agent"]) if "agent" in params else None,
        since=parse_date(params["since"]) if "since" in params else None,
        until=parse_date(params["until"]) if "until" in params else None,
        order=params.get("order", "recent"),
    )


def _reply_latency(setup: dict[str, Any], replies: int) -> dict[str, Any]:
    """Seconds from an answer's commit to its arrival at a local SMTP server, worker idle."""
    from aiosmtpd.controller import Controller

    from herald.audit.actors import Actor
    from herald.conversations import actions
    from herald.conversations.actions import Answer
    from herald.core.worker import HeraldWorker
    from herald.mailboxes.actions import do_save_mailbox
    from herald.mailboxes.models import Mailbox

    arrivals: dict[str, float] = {}
    arrived = threading.Condition()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with arrived:
                arrivals[envelope.rcpt_tos[0]] = time.time()
                arrived.notify_all()
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    mailbox = Mailbox.objects.get(pk=setup["mailboxes"][0])
    do_save_mailbox(
        Actor.system("bench"), mailbox, {"smtp_port": port, "desk_mode": "open"}, secrets={}
    )
    agent = setup["agent"]
    worker = HeraldWorker()
    worker.start()
    samples = []
    try:
        time.sleep(2)  # the worker's threads are up and idle
        for n in range(replies):
            started = time.time()  # the agent presses Send
            conversation = actions.do_start_conversation(
                agent,
                mailbox,
                to=f"latency{n}@bench.example",
                subject=f"Latency {n}",
                html="Hello",
            )
            with arrived:
                arrived.wait_for(lambda n=n: f"latency{n}@bench.example" in arrivals, timeout=30)
            samples.append(arrivals.get(f"latency{n}@bench.example", started + 30) - started)
            actions.do_answer(agent, conversation, Answer("note", "timed"))
            time.sleep(random.uniform(0.1, 0.6))  # presses come at any moment of the poll
    finally:
        worker.stop(timeout=10)
        controller.stop()
    return {
        "replies": replies,
        "reply_p50_ms": _p([s * 1000 for s in samples], 0.5),
        "reply_p99_ms": _p([s * 1000 for s in samples], 0.99),
    }


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from herald.conversations import queries

    setup = _setup()
    filled = _fill(args.conversations, setup)
    users = {"agent": setup["agent"], "manager": setup["manager"]}
    clients = {}
    for who, user in users.items():
        clients[who] = Client()
        clients[who].force_login(user)
    cases: dict[str, Any] = {}
    worst = 0.0
    for name, who, params in _cases(setup):
        flt = _filter(params)
        user = users[who]
        page = int(params.get("page", "1"))
        query_ms, rows = _timed(
            lambda flt=flt, user=user, page=page: queries.inbox_page(user, flt, page),
            args.repeat,
        )

        def view(who: str = who, params: dict[str, str] = params) -> int:
            response = clients[who].get("/conversations/", params)
            assert response.status_code == 200, response.status_code
            return len(response.content)

        page_ms, _size = _timed(view, args.repeat)
        cases[name] = {
            "rows": min(len(rows), queries.PAGE_SIZE),
            "query_p50_ms": _p(query_ms, 0.5),
            "query_p99_ms": _p(query_ms, 0.99),
            "page_p50_ms": _p(page_ms, 0.5),
            "page_p99_ms": _p(page_ms, 0.99),
        }
        worst = max(worst, cases[name]["query_p99_ms"], cases[name]["page_p99_ms"])
    latency = _reply_latency(setup, args.replies)
    return {
        "database": connection.vendor,
        "conversations": args.conversations,
        "messages": args.conversations * MESSAGES_PER_CONVERSATION,
        **filled,
        "repeat": args.repeat,
        "worst_p99_ms": worst,
        "all_within_150_ms": worst <= 150,
        **latency,
        "reply_p50_within_1_s": latency["reply_p50_ms"] <= 1000,
        "cases": cases,
        "peak_rss_mb": peak_rss_mb(),
    }

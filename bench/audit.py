"""The audit history at scale: `herald bench audit [--events N] [--database sqlite|postgres]`.

Fills a fresh database with N realistic events (default 1,000,000) by bulk insert (SQLite
executemany in one transaction, PostgreSQL COPY), then times, for each case, the history's query
function (``herald.audit.queries.history``) and the whole page through Django's test client as a
logged-in manager; prints p50/p99 in ms per case. Target: every case ≤ 200 ms.

The measuring half runs in a child `herald bench audit --child ...` pointed at the fresh database.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from datetime import date, timedelta
from typing import Any

from _common import fresh_database, herald, peak_rss_mb

BATCH = 20_000
RARE_WORD = "zanzibar"  # the name of one campaign, found in a handful of events
COMMON_WORD = "change"  # in every *.change action: about a third of all events
NO_MATCH = "xylophone"

FIRST = "ada alice amir bruno chen chloe dana elif emma farid giulia hana ines ivan jonas karim"
LAST = "martin rossi haddad dubois bianchi nguyen moreau conti mansour lefebvre ricci garcia"
THEMES = (
    "renewal reminder winter offer loyalty survey welcome follow-up invoice payment outage "
    "notice upgrade satisfaction newsletter appointment confirmation anniversary referral"
)
MONTHS = "january february march april may june july august september october november december"
# (object type, actions, how many objects of that type, share of events)
KINDS = [
    ("campaign", ["create", "change", "start", "pause", "resume"], 3000, 30),
    ("template", ["create", "change"], 800, 20),
    ("contactlist", ["create", "import", "change"], 400, 15),
    ("schedule", ["change"], 600, 10),
    ("user", ["create", "change", "password"], 80, 8),
    ("mailbox", ["create", "change"], 20, 5),
    ("disposition", ["create", "change"], 60, 5),
    ("apitoken", ["create", "revoke"], 150, 4),
    ("webhook", ["create", "change"], 40, 2),
    ("account", ["change"], 1, 1),
]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="herald bench audit")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per case")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: list[str]) -> dict[str, Any]:
    args = _parse(argv)
    if args.child:
        return _measure(args)
    with fresh_database(args.database) as env:
        try:
            herald(["migrate"], env)
            child = herald(["bench", "audit", "--child", *argv], env)
        finally:  # a million events take most of a gigabyte on SQLite
            shutil.rmtree(env["HERALD_DATA_DIR"], ignore_errors=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return figures


# -- the child: fill, then time ---------------------------------------------------------------


def _names(rng: random.Random) -> dict[str, list[str]]:
    themes, months = THEMES.split(), MONTHS.split()
    return {
        "campaign": [
            f"{rng.choice(months).title()} {rng.choice(themes)} {rng.choice(themes)} {2020 + i % 7}"
            for i in range(3000)
        ],
        "template": [f"{rng.choice(themes).title()} email v{i % 9 + 1}" for i in range(800)],
        "contactlist": [f"{rng.choice(themes).title()} customers {i}" for i in range(400)],
        "schedule": [f"{rng.choice(months).title()} weekdays {i}" for i in range(600)],
        "mailbox": [f"Support {i}" for i in range(20)],
        "disposition": [f"{rng.choice(themes).title()} done" for i in range(60)],
        "apitoken": [f"CRM sync {i}" for i in range(150)],
        "webhook": [f"Voice platform hook {i}" for i in range(40)],
        "account": ["Acme Energy"],
    }


def _fill(n: int, seed: int = 7) -> dict[str, Any]:  # noqa: PLR0915 (one generator, inline)
    from django.db import connection, transaction
    from django.utils import timezone

    from herald.accounts.models import Role, User
    from herald.audit.search import event_words

    rng = random.Random(seed)
    firsts, lasts = FIRST.split(), LAST.split()
    users = []
    for i in range(60):
        email = f"{firsts[i % len(firsts)]}.{lasts[i % len(lasts)]}{i}@acme-energy.example"
        role = Role.ADMIN if i < 3 else Role.MANAGER if i < 15 else Role.AGENT
        users.append(User.objects.create_user(email=email, role=role, name=email.partition("@")[0]))
    names = _names(rng)
    names["user"] = [u.email for u in users] + [f"agent{i}@acme-energy.example" for i in range(20)]
    kinds = [k for k, *_ in KINDS]
    weights = [w for *_, w in KINDS]
    by_kind = {k: (actions, count) for k, actions, count, _w in KINDS}
    managers = [u for u in users if u.role != Role.AGENT]
    start = timezone.now() - timedelta(days=365)
    step = timedelta(days=365) / n
    rare_campaign = 1234

    def rows() -> Any:
        for i in range(1, n + 1):
            kind = rng.choices(kinds, weights)[0]
            actions, count = by_kind[kind]
            obj = rng.randrange(1, count + 1)
            action = f"{kind}.{rng.choice(actions)}"
            repr_ = names[kind][obj - 1]
            if kind == "campaign" and obj == rare_campaign:
                repr_ = "Zanzibar loyalty offer"
            who = rng.random()
            if who < 0.85:
                user = rng.choice(managers)
                actor_user, actor_label = user.pk, user.email
            elif who < 0.95:
                user = rng.choice(managers[:5])
                actor_user, actor_label = user.pk, f"{user.email} (API token CRM sync)"
            else:
                actor_user, actor_label = None, rng.choice(["command line", "system"])
            changes = (
                {"rate_per_minute": [rng.randrange(10, 100), rng.randrange(10, 100)]}
                if action.endswith("change")
                else {"name": [None, repr_]}
            )
            at = start + step * i
            yield (i, at, actor_user, actor_label, action, kind, str(obj), repr_, changes)

    started = time.perf_counter()
    words = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            words = _copy_postgres(connection, rows(), event_words)
        else:
            words = _insert_sqlite(connection, rows(), event_words)
    with connection.cursor() as cursor:
        # PostgreSQL's autovacuum analyzes a table after such a load; do it now rather than
        # whenever it comes round. SQLite is measured as shipped: Herald never runs ANALYZE.
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE audit_auditevent")
            cursor.execute("ANALYZE audit_auditword")
    fill_s = time.perf_counter() - started
    return {
        "events": n,
        "words": words,
        "fill_s": round(fill_s, 1),
        "fill_events_per_s": round(n / fill_s),
        "rare_campaign": rare_campaign,
        "user_id": managers[4].pk,
        "start": start,
    }


EVENT_COLUMNS = (
    "id, at, actor_user_id, actor_label, action, object_type, object_id, object_repr, changes"
)


def _insert_sqlite(connection: Any, rows: Any, event_words: Any) -> int:
    connection.ensure_connection()
    raw = connection.connection
    event_sql = f"INSERT INTO audit_auditevent ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"  # noqa: S608
    word_sql = "INSERT INTO audit_auditword (word, event_id) VALUES (?, ?)"
    total = 0
    events: list[tuple] = []
    words: list[tuple] = []

    def flush() -> None:
        raw.executemany(event_sql, events)
        raw.executemany(word_sql, words)
        events.clear()
        words.clear()

    for i, at, user, label, action, kind, obj, repr_, changes in rows:
        events.append(
            (i, at.isoformat(), user, label, action, kind, obj, repr_, json.dumps(changes))
        )
        for word in event_words(label, action, kind, repr_):
            words.append((word, i))
        if len(events) >= BATCH:
            total += len(words)
            flush()
    total += len(words)
    flush()
    return total


def _copy_postgres(connection: Any, rows: Any, event_words: Any) -> int:
    from psycopg.types.json import Jsonb

    connection.ensure_connection()
    total = 0
    events: list[tuple] = []
    words: list[tuple] = []

    def flush(cursor: Any) -> None:
        # One COPY per table per batch: memory stays bounded, and COPY stays the fast path.
        with cursor.copy(f"COPY audit_auditevent ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in events:
                copy.write_row(row)
        with cursor.copy("COPY audit_auditword (word, event_id) FROM STDIN") as copy:
            for row in words:
                copy.write_row(row)
        events.clear()
        words.clear()

    with connection.connection.cursor() as cursor:
        for i, at, user, label, action, kind, obj, repr_, changes in rows:
            events.append((i, at, user, label, action, kind, obj, repr_, Jsonb(changes)))
            words.extend((word, i) for word in event_words(label, action, kind, repr_))
            if len(events) >= BATCH:
                total += len(words)
                flush(cursor)
        total += len(words)
        flush(cursor)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), "
            "(SELECT MAX(id) FROM audit_auditevent))"
        )
    return total


def _cases(filled: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Each case as (HistoryFilter arguments + before_id, the page's query string)."""
    n = filled["events"]
    start: date = filled["start"].date()
    week = start + timedelta(days=180)
    return {
        "no_filter": ({}, {}),
        "search_common_word": ({"search": COMMON_WORD}, {"q": COMMON_WORD}),
        "search_rare_word": ({"search": RARE_WORD}, {"q": RARE_WORD}),
        "search_no_match": ({"search": NO_MATCH}, {"q": NO_MATCH}),
        "search_two_words": ({"search": "loyalty zanzibar"}, {"q": "loyalty zanzibar"}),
        "object_type": ({"object_type": "mailbox"}, {"type": "mailbox"}),
        "object": (
            {"object_type": "campaign", "object_id": str(filled["rare_campaign"])},
            {"type": "campaign", "object": str(filled["rare_campaign"])},
        ),
        "user": ({"user_id": filled["user_id"]}, {"user": str(filled["user_id"])}),
        "date_range_week": (
            {"since": week, "until": week + timedelta(days=6)},
            {"since": week.isoformat(), "until": (week + timedelta(days=6)).isoformat()},
        ),
        "date_range_first_month": (
            {"since": start, "until": start + timedelta(days=30)},
            {"since": start.isoformat(), "until": (start + timedelta(days=30)).isoformat()},
        ),
        "deep_page": ({"before_id": n // 2}, {"before": str(n // 2)}),
        "search_common_word_deep_page": (
            {"search": COMMON_WORD, "before_id": n // 10},
            {"q": COMMON_WORD, "before": str(n // 10)},
        ),
    }


def _timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    result = fn()  # warm-up: the first run pays for the connection and cold pages
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from herald.accounts.models import Role, User
    from herald.audit import queries

    filled = _fill(args.events)
    manager = User.objects.create_user(email="bench.manager@example.com", role=Role.MANAGER)
    client = Client()
    client.force_login(manager)
    cases: dict[str, Any] = {}
    worst = 0.0
    for name, (kwargs, params) in _cases(filled).items():
        before_id = kwargs.pop("before_id", None)
        flt = queries.HistoryFilter(**kwargs)
        query_ms, (rows, _next) = _timed(
            lambda flt=flt, before_id=before_id: queries.history(flt, before_id), args.repeat
        )

        def page(params: dict[str, str] = params) -> int:
            response = client.get("/history/", params)
            assert response.status_code == 200, response.status_code
            return len(response.content)

        page_ms, _size = _timed(page, args.repeat)
        cases[name] = {
            "rows": len(rows),
            "query_p50_ms": _p(query_ms, 0.5),
            "query_p99_ms": _p(query_ms, 0.99),
            "page_p50_ms": _p(page_ms, 0.5),
            "page_p99_ms": _p(page_ms, 0.99),
        }
        worst = max(worst, cases[name]["query_p99_ms"], cases[name]["page_p99_ms"])
    return {
        "database": connection.vendor,
        "events": filled["events"],
        "search_words": filled["words"],
        "fill_s": filled["fill_s"],
        "fill_events_per_s": filled["fill_events_per_s"],
        "repeat": args.repeat,
        "worst_p99_ms": worst,
        "all_within_200_ms": worst <= 200,
        "peak_rss_mb": peak_rss_mb(),
        "cases": cases,
    }

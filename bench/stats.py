"""`herald bench stats [--deliveries N] [--events M] [--database D] [--requests R]`: how fast a
campaign's statistics page answers for a big campaign.

A fresh database gets one campaign with N deliveries (default 1,000,000: 96 % sent, 2 % failed,
1 % bounced, 1 % skipped) and M events (default 3,000,000: a launch, one "sent" per sent
delivery spread over 10 hours, then opens and clicks — human and machine, on 5 links — and
ratings and unsubscriptions, spread over 3 days) with their tallies and engagement rows, written
in bulk SQL (the per-hour tallies computed by the same query the migration uses for old events).
A child process then asks for the page as a logged-in manager through Django's test client,
R times each: the whole page (counters, chart, links, first page of who opened) and the
fragment the page refreshes every few seconds. It reports p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

from _common import REPO, five_link_campaign, fresh_database, herald

CHILD = "import sys; sys.path[:0] = ['bench']; import stats; stats.{call}"


def seed(deliveries: int, events: int) -> None:
    """In a child process pointed at the fresh database: the campaign, in bulk SQL."""
    import importlib

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()
    from django.db import connection, transaction

    from herald.accounts.models import Role, User

    campaign = five_link_campaign("running")
    User.objects.create_user("manager@example.com", "bench-password", role=Role.MANAGER)
    postgres = connection.vendor == "postgresql"
    c = campaign.pk
    # Extra events beyond the launch and one "sent" per sent delivery: opens, clicks, ratings.
    extra = max(0, events - 1 - deliveries)
    numbers = (
        "generate_series(CAST(1 AS bigint), %s) AS s(n)"
        if postgres
        else "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
        "SELECT n FROM s) AS s"
    )
    start = "TIMESTAMPTZ '2026-11-20 08:00:00+00'" if postgres else "'2026-11-20 08:00:00'"

    def at(seconds_sql: str) -> str:
        if postgres:
            return f"({start} + ({seconds_sql}) * INTERVAL '1 second')"
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {start}, '+' || ({seconds_sql}) || ' seconds')"

    state = (
        "CASE WHEN n %% 100 < 96 THEN 'sent' WHEN n %% 100 < 98 THEN 'failed' "
        "WHEN n %% 100 < 99 THEN 'bounced' ELSE 'skipped' END"
    )
    data_open = (
        '\'{"ua": "Mozilla/5.0", "ip": "203.0.113.0", "machine": \' || '
        "CASE WHEN n %% 3 = 0 THEN 'true' ELSE 'false' END || ', \"tally\": [' || "
        'CASE WHEN n %% 3 = 0 THEN \'"machine"\' ELSE \'"human", "unique"\' END || '
        "'], \"counted\": true}'"
    )
    data_click = (
        '\'{"ua": "Mozilla/5.0 (X11)", "ip": "203.0.113.0", "machine": false, '
        '"link": \' || (n %% 5) || \', "tally": ["link:\' || (n %% 5) || \'", "human", '
        '"unique", "link:\' || (n %% 5) || \':unique"], "counted": true}\''
    )
    jsonb = "::jsonb" if postgres else ""
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE campaigns_event DISABLE TRIGGER tracking_tally_events")
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'tracking_tally_events'")
            trigger = cursor.fetchone()[0]
            cursor.execute("DROP TRIGGER tracking_tally_events")
        cursor.execute(
            "INSERT INTO campaigns_delivery (campaign_id, run, contact_id, email, tz, state, "  # noqa: S608
            "reason, attempts, sent_at, reply) "
            f"SELECT {c}, 1, n, 'r' || n || '@example.com', '', {state}, "
            "CASE WHEN n %% 100 = 99 THEN 'suppressed: unsubscribed' ELSE '' END, 1, "
            f"{at('n * 36000 / %s')}, '' FROM {numbers}",
            [deliveries, deliveries],
        )
        cursor.execute("SELECT min(id) FROM campaigns_delivery")
        first = cursor.fetchone()[0] - 1
        cursor.execute(
            "INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data) "
            f"SELECT {c}, NULL, 'launched', {start}, '', NULL"
        )
        cursor.execute(
            "INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data) "  # noqa: S608
            f"SELECT {c}, {first} + n, "
            "CASE WHEN n %% 100 < 96 OR n %% 100 = 98 THEN 'sent' WHEN n %% 100 < 98 THEN 'failed' "
            f"ELSE 'skipped' END, {at('n * 36000 / %s')}, '', NULL FROM {numbers}",
            [deliveries, deliveries],
        )
        # Opens on the first 60 % of the extra events, clicks on 35 %, ratings on the rest.
        opens, clicks = int(extra * 0.6), int(extra * 0.35)
        ratings = extra - opens - clicks
        cursor.execute(
            "INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data) "  # noqa: S608
            f"SELECT {c}, {first} + 1 + (n * 7919) %% %s, 'opened', "
            f"{at('36000 + n * 216000 / %s')}, '', ({data_open}){jsonb} FROM {numbers}",
            [deliveries, opens, opens],
        )
        cursor.execute(
            "INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data) "  # noqa: S608
            f"SELECT {c}, {first} + 1 + (n * 104729) %% %s, 'clicked', "
            f"{at('40000 + n * 216000 / %s')}, '', ({data_click}){jsonb} FROM {numbers}",
            [deliveries, clicks, clicks],
        )
        cursor.execute(
            "INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data) "  # noqa: S608
            f"SELECT {c}, {first} + 1 + (n * 31) %% %s, 'rated', {at('50000 + n')}, '', "
            '(\'{"machine": false, "score": \' || (1 + n %% 5) || \', "tally": ["human", '
            f'"score:\' || (1 + n %% 5) || \'"], "counted": true}}\'){jsonb} FROM {numbers}',
            [deliveries, ratings],
        )
        # Engagement: who opened (every 1st of 2 deliveries), clicked (1 in 5), rated.
        cursor.execute(
            "INSERT INTO tracking_engagement (delivery_id, campaign_id, opens, machine_opens, "  # noqa: S608
            "first_open_at, read_at, last_open_at, clicks, machine_clicks, first_click_at, "
            "clicked_at, last_click_at, links, rating, rated_at) "
            f"SELECT {first} + n, {c}, 1, n %% 3, {at('36000 + n')}, "
            f"CASE WHEN n %% 3 = 0 THEN NULL ELSE {at('36000 + n')} END, {at('36000 + n')}, "
            f"CASE WHEN n %% 5 = 0 THEN 1 ELSE 0 END, 0, "
            f"CASE WHEN n %% 5 = 0 THEN {at('40000 + n')} END, "
            f"CASE WHEN n %% 5 = 0 THEN {at('40000 + n')} END, "
            f"CASE WHEN n %% 5 = 0 THEN {at('40000 + n')} END, '[]'{jsonb}, "
            "CASE WHEN n %% 20 = 0 THEN 1 + n %% 5 END, "
            f"CASE WHEN n %% 20 = 0 THEN {at('50000 + n')} END "
            f"FROM {numbers} WHERE n %% 2 = 0",
            [deliveries],
        )
        migration = importlib.import_module(
            "herald.tracking.migrations.0001_tallies_engagement_triggers"
        )
        cursor.execute(migration.POSTGRES_BACKFILL if postgres else migration.SQLITE_BACKFILL)
        if postgres:
            cursor.execute("ALTER TABLE campaigns_event ENABLE TRIGGER tracking_tally_events")
        else:
            cursor.execute(trigger)
    with connection.cursor() as cursor:
        # What autovacuum does soon after a bulk write on PostgreSQL (the visibility map that
        # index-only scans need); statistics for the planner on both.
        cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
    print(json.dumps({"campaign": c}))


def measure(campaign_id: int, requests: int) -> None:
    """In a child process: the page and its live fragment, ``requests`` times each."""
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from herald.accounts.models import User

    setup_test_environment()
    client = Client()
    client.force_login(User.objects.get(email="manager@example.com"))
    figures = {}
    for name, url in (
        ("page", f"/campaigns/{campaign_id}/stats/"),
        ("live", f"/campaigns/{campaign_id}/stats/live/"),
    ):
        times = []
        first = None
        for i in range(requests + 1):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            if i == 0:
                first = elapsed  # the process's first: caches empty
            else:
                times.append(elapsed)
        times.sort()
        figures[f"{name}_first_ms"] = round(first or 0, 1)
        figures[f"{name}_p50_ms"] = round(times[len(times) // 2], 1)
        figures[f"{name}_p99_ms"] = round(times[min(len(times) - 1, int(len(times) * 0.99))], 1)
    figures["vendor"] = connection.vendor
    print(json.dumps(figures))


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench stats")
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    result: dict = {
        "database": args.database,
        "deliveries": args.deliveries,
        "events": args.events,
    }
    with fresh_database(args.database) as env:
        herald(["migrate", "--verbosity", "0"], env)
        child_env = {**os.environ, **env}
        seeded = subprocess.run(
            [sys.executable, "-c", CHILD.format(call=f"seed({args.deliveries}, {args.events})")],
            env=child_env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        campaign = json.loads(seeded.stdout.strip().splitlines()[-1])["campaign"]
        counted = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(COUNT)],
            env=child_env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        result.update(json.loads(counted.stdout))
        measured = subprocess.run(
            [sys.executable, "-c", CHILD.format(call=f"measure({campaign}, {args.requests})")],
            env=child_env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        result.update(json.loads(measured.stdout.strip().splitlines()[-1]))
    result.pop("vendor", None)
    return result


COUNT = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
django.setup()
from herald.campaigns.models import Delivery, Event
print(json.dumps({"delivery_rows": Delivery.objects.count(), "event_rows": Event.objects.count()}))
"""

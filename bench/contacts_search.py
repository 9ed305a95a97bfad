"""`herald bench contacts_search [--contacts N] [--database sqlite|postgres] [--repeat R]`: loads
N contacts with the import on a fresh database, then times contact search by name prefix,
address prefix, external id, field value, a common name and a term with no match — the search
function (``herald.contacts.queries.search_contacts``, addresses prefetched as the page does)
and the page itself (Django's test client, logged in as a manager). Prints p50/p99 ms per case.

The loading and the timing run in a child `herald bench contacts_search --child` pointed at the
fresh database, so that the figures never touch the developer's own data.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import fresh_database, herald

FIRST = ["Ann", "Bob", "Chloé", "Dario", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas"]
LAST = ["Martin", "Rossi", "Müller", "Dubois", "Bianchi", "Haddad", "Nowak", "García"]
ASCII_FOLD = str.maketrans("éèü", "eeu")
HEADER = ["Email", "First name", "Last name", "Customer", "Contract", "Plan", "City", "Score"]
# Contract is the searchable custom column ("field:key"); the others are plain custom fields.
MAPPING = {
    "Email": "email1",
    "First name": "first_name",
    "Last name": "last_name",
    "Customer": "external_id",
    "Contract": "field:key",
    "Plan": "field",
    "City": "field",
    "Score": "field",
}


def cases(n: int) -> dict[str, str]:
    """Search terms, by case; the numbered ones exist in a file of ``n`` rows."""
    i = n * 2 // 3
    return {
        "name_prefix": "dar",  # a tenth of all contacts start so
        "common_name": "martin",  # an eighth of all contacts
        "full_name": "emma rossi",
        "address_prefix": f"{_first(i).lower().translate(ASCII_FOLD)}.{i}@",
        "external_id": f"K{i:08d}",
        "field_value": f"contract=CT-{i:08d}",
        "field_value_common": "plan=gold",
        "no_match": "zzq-nobody",
        "no_match_field": "contract=CT-none",
    }


def _first(i: int) -> str:
    return FIRST[i % len(FIRST)]


def write_file(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            first = _first(i)
            local = first.lower().translate(ASCII_FOLD)
            out.writerow(
                [
                    f"{local}.{i}@domain{i % 2000}.example.com",
                    first,
                    rng.choice(LAST),
                    f"K{i:08d}",
                    f"CT-{i:08d}",
                    rng.choice(["free", "silver", "gold"]),
                    rng.choice(["Paris", "Milano", "Lyon", "Casablanca"]),
                    str(rng.randint(0, 100)),
                ]
            )


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from django.test import Client
    from django.urls import reverse

    from herald.accounts.models import Role, User
    from herald.audit.actors import Actor
    from herald.contacts import actions, importing, queries

    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-search-"))
    path = workdir / "contacts.csv"
    write_file(path, args.contacts)
    actor = Actor.system("bench")
    contact_list = actions.do_create_list(actor, name="bench")
    stored = actions.store_upload(path, path.name)
    path.unlink()
    started = time.perf_counter()
    job = actions.do_create_import(actor, contact_list, stored, original_name=path.name)
    job = actions.do_start_import(actor, job, columns=MAPPING, enqueue=False)
    done = importing.run_import(job.pk)
    if done is None or done.imported != args.contacts:
        raise SystemExit(f"the import did not load every contact: {done and done.summary()}")
    load_s = time.perf_counter() - started
    gc.collect()  # what the import left behind is not a web process's heap
    manager = User.objects.create_user(
        email="bench-manager@example.com", password=None, role=Role.MANAGER, name="bench"
    )
    client = Client()
    client.force_login(manager)
    url = reverse("contacts:search")
    figures: dict[str, Any] = {}
    for case, term in cases(args.contacts).items():
        function, page, found = [], [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            found = len(list(queries.search_contacts(term).prefetch_related("addresses")))
            function.append(time.perf_counter() - t)
            t = time.perf_counter()
            response = client.get(url, {"q": term})
            page.append(time.perf_counter() - t)
            assert response.status_code == 200, (case, response.status_code)
        figures[case] = {
            "term": term,
            "found": found,
            "function": _percentiles(function),
            "page": _percentiles(page),
        }
    worst = max(max(f["function"]["p99_ms"], f["page"]["p99_ms"]) for f in figures.values())
    return {"load_s": round(load_s, 1), "worst_p99_ms": worst, "cases": figures}


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="herald bench contacts_search")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=30, help="timings per case")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    with fresh_database(args.database) as env:
        env["PYTHONDONTWRITEBYTECODE"] = ""
        herald(["migrate", "-v0"], env)
        options = ["--contacts", str(args.contacts), "--repeat", str(args.repeat), "--child"]
        done = herald(["bench", "contacts_search", *options], env)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures.pop("bench", None)
    return {"contacts": args.contacts, "database": args.database, **figures}

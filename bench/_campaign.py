"""The campaign benchmarks' shared setup: a contacts file, and a child process that creates the
account, template, mailbox and campaign on a fresh database and starts (launches) it.

``python -m bench._campaign setup --list NAME --port P --dkim none|ed25519|rsa`` runs with
``DATABASE_URL`` pointing at the benchmark's database, after ``herald contacts import`` filled
the list, and prints one JSON line: the campaign's id, how long the start took (``launch_s``:
pre-flight, the one-statement insert of the deliveries and the commit) and the insert alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

FIRST = ["Ann", "Bob", "Chloé", "Dario", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas"]
LAST = ["Martin", "Rossi", "Müller", "Dubois", "Bianchi", "Haddad", "Nowak", "García"]
ASCII_FOLD = str.maketrans("éèü", "eeu")
SUBJECT = "${first_name|Hello}, your ${company|} news"


def write_contacts(path: Path, rows: int, seed: int = 11) -> None:
    """N contacts with one valid address each (over 2,000 domains), names, company, external
    id and two custom columns: every row becomes one queued delivery."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Email", "First name", "Last name", "Company", "Customer ID", "Plan"])
        for i in range(rows):
            first = rng.choice(FIRST)
            local = first.lower().translate(ASCII_FOLD)
            out.writerow(
                [
                    f"{local}.{i}@domain{i % 2000}.example.com",
                    first,
                    rng.choice(LAST),
                    f"Firm {i % 5000}" if i % 3 else "",
                    f"C{i:08d}",
                    rng.choice(["free", "silver", "gold"]),
                ]
            )


def newsletter() -> str:
    """The 15 KB HTML template of ``bench/render.py`` (10 variables, 5 links)."""
    spec = spec_from_file_location("herald_bench_render", Path(__file__).with_name("render.py"))
    if spec is None or spec.loader is None:
        raise SystemExit("bench/render.py cannot be loaded")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.newsletter()


def setup(args: argparse.Namespace) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    import django

    django.setup()
    from herald.accounts.models import Account
    from herald.audit.actors import Actor
    from herald.campaigns import actions
    from herald.contacts.models import ContactList
    from herald.mailboxes.actions import do_save_mailbox
    from herald.messaging.actions import do_save_template

    actor = Actor.system("bench")
    account = Account.load()
    account.company_name, account.address = "Acme", "1 Main St, Springfield"
    account.email, account.phone = "hello@acme.example", "+39 06 000 000"
    account.save()
    template = do_save_template(
        actor, None, name="Bench newsletter", subject=SUBJECT, html=newsletter()
    ).template
    dkim = {} if args.dkim == "none" else {"dkim_domain": "mail.example.org", "dkim_selector": "b"}
    mailbox = do_save_mailbox(
        actor,
        None,
        {
            "name": "Bench",
            "from_address": "news@mail.example.org",
            "from_name": "Acme News",
            "smtp_host": "127.0.0.1",
            "smtp_port": args.port,
            "smtp_security": "none",
            "max_connections": args.connections,
            **dkim,
        },
        secrets={},
        dkim_generate=None if args.dkim == "none" else args.dkim,
    )
    campaign = actions.do_save_campaign(
        actor,
        None,
        lists=[ContactList.objects.get(name=args.list)],
        name="Bench campaign",
        mailbox=mailbox,
        template=template,
    )
    # The insert alone, besides the whole start (pre-flight, insert, events, commit).
    insert = actions.insert_deliveries
    timed: dict[str, float] = {}

    def timed_insert(*a, **kw):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return insert(*a, **kw)
        finally:
            timed["insert_s"] = time.perf_counter() - started

    actions.insert_deliveries = timed_insert  # type: ignore[assignment]
    started = time.perf_counter()
    actions.do_start_campaign(actor, campaign)
    launch_s = time.perf_counter() - started
    from herald.campaigns.queries import progress

    counts = progress(campaign.pk)
    return {
        "campaign": campaign.pk,
        "launch_s": round(launch_s, 2),
        "insert_s": round(timed["insert_s"], 2),
        "queued": counts["queued"],
        "skipped": counts["skipped"],
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._campaign")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--list", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--dkim", choices=["none", "ed25519", "rsa"], default="none")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(setup(args)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

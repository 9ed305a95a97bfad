"""Helpers shared by the benchmarks: fresh databases, child processes, memory figures.

A benchmark measures in a child process (`herald migrate` and the work itself) pointed at a fresh
database, so that numbers never include the parent's imports and peak RSS is the child's own.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_SERVER = os.environ.get("HERALD_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REPO = Path(__file__).resolve().parents[1]
HERALD = [sys.executable, "-m", "herald.cli"]


CORPORA = Path(os.environ.get("HERALD_CORPORA", REPO.parent / "shared" / "corpora"))


def corpus_files() -> list[Path]:
    """The shared corpora's messages (bounces and replies), or an exit that says what is missing."""
    folders = [CORPORA / "bounces", CORPORA / "replies"]
    if not all(folder.is_dir() for folder in folders):
        raise SystemExit(
            f"the shared corpora are not at {CORPORA}: they come with the Herald workspace "
            "(../shared/corpora, 360 bounces and 124 replies), not with a clone of the "
            "repository; set HERALD_CORPORA to their folder"
        )
    return sorted(p for folder in folders for p in folder.iterdir() if p.suffix in {".eml", ".txt"})


@contextmanager
def fresh_database(kind: str) -> Iterator[dict[str, str]]:
    """Environment variables for a new, empty database of ``kind`` (sqlite or postgres)."""
    if kind not in ("sqlite", "postgres"):
        raise SystemExit(f"unknown database {kind!r}: use sqlite or postgres")
    data_dir = tempfile.mkdtemp(prefix="herald-bench-")
    env = {"HERALD_DATA_DIR": data_dir, "HERALD_LOG_LEVEL": "WARNING"}
    try:  # the data directory (a SQLite database of a million rows is ~700 MB) goes afterwards
        if kind == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
            yield env
            return
        import psycopg

        name = f"herald_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
        try:
            yield env
        finally:
            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def herald(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess:
    """Runs a `herald` subcommand with ``env`` added; raises if it fails."""
    return subprocess.run(
        [*HERALD, *args],
        env={**os.environ, **env},
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MB (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def five_link_campaign(status: str) -> Any:
    """In a child process with Django set up: a campaign (in ``status``, run 1) of a template
    with 5 tracked links and an unsubscribe link, sent through a mailbox that is never used."""
    from herald.audit.actors import Actor
    from herald.campaigns.models import Campaign
    from herald.mailboxes.models import Mailbox
    from herald.messaging.actions import do_save_template

    links = " ".join(f'<a href="https://shop.example.com/p/{n}">Link {n}</a>' for n in range(5))
    html = f"<p>Hello ${{first_name|there}}</p><p>{links}</p><a href='${{unsubscribe_url}}'>u</a>"
    template = do_save_template(
        Actor.system("bench"), None, name="Bench", subject="Hello", html=html
    ).template
    mailbox = Mailbox.objects.create(
        name="Bench", from_address="news@example.com", smtp_host="127.0.0.1", smtp_port=25
    )
    return Campaign.objects.create(
        name="Bench",
        mailbox=mailbox,
        template=template,
        version=template.current_version,
        status=status,
        run=1,
    )

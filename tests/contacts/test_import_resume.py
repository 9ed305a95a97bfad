"""An import whose worker is killed mid-file goes on after restart: no duplicates, no gaps.

The workers are real `herald worker` processes on the test database (a file for SQLite, the
PostgreSQL test database on the PostgreSQL pass), killed with SIGKILL.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from herald.audit.actors import Actor
from herald.contacts import actions
from herald.contacts.models import Address, Contact, ImportJob, ImportStatus, ListMember

ROWS = 30_000


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def _worker(tmp_path: Path, name: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "HERALD_IMPORT_BATCH_ROWS": "500",
        "HERALD_IMPORT_LEASE_SECONDS": "3",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "worker", "--queues", "imports"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_import_resumes_after_its_worker_is_killed_mid_file(mike, tmp_path):
    path = tmp_path / "big.csv"
    expected = set()
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["email", "first_name", "notes"])
        for i in range(ROWS):
            email = f"person{i}@example.com" if i % 100 else f"broken{i}@"
            out.writerow([email, f"P{i}", "multi\nline" if i % 7 == 0 else "x"])
            if i % 100:
                expected.add(email)
    actor = Actor.for_user(mike)
    contact_list = actions.do_create_list(actor, name="Big")
    job = actions.do_create_import(actor, contact_list, actions.store_upload(path, "big.csv"))
    actions.do_start_import(actor, job)  # queued for the workers

    first = _worker(tmp_path, "first")
    try:

        def halfway() -> bool:
            job.refresh_from_db()
            return job.rows_done >= ROWS // 5

        _wait(halfway, 120, "the first worker to import a part of the file")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING
    assert 0 < job.rows_done < ROWS, "the worker must be killed mid-file"

    second = _worker(tmp_path, "second")
    try:

        def finished() -> bool:
            job.refresh_from_db()
            return job.status in {ImportStatus.DONE, ImportStatus.FAILED}

        _wait(finished, 180, "the second worker to finish the import")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    assert job.status == ImportStatus.DONE, job.error
    assert (job.imported, job.rejected, job.rows_done) == (len(expected), ROWS // 100, ROWS)
    members = set(
        ListMember.objects.filter(contact_list=contact_list).values_list(
            "contact__addresses__email", flat=True
        )
    )
    assert members == expected
    assert Contact.objects.count() == len(expected)  # nothing written twice
    assert Address.objects.count() == len(expected)
    assert ImportJob.objects.get(pk=job.pk).rejections.count() == ROWS // 100

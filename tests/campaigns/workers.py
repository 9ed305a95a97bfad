"""Real `herald worker` processes on the test database, for the campaign tests that start, kill
and stop them: the database a test sees (a file for SQLite, the test database on the PostgreSQL
pass) is the one they work on, and the mailbox row says which aiosmtpd they send to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from herald.contacts.models import Address, Contact, ContactList, ListMember
from herald.core.models import WorkerHeartbeat
from tests.dialer.test_pacing_workers import database_url

# Several worker processes share a campaign on PostgreSQL; SQLite is the embedded, one-process
# setup (the kill and SIGTERM tests run one worker at a time, so they run on both).
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: several worker processes share one campaign on PostgreSQL "
    "(SQLite is the one-process embedded setup); the PostgreSQL pass of `make test` runs it",
)


class Worker:
    """One `herald worker` child process, in a session of its own (killed as a group)."""

    def __init__(self, log_dir: Path, name: str, **env: str) -> None:
        self.log = log_dir / f"{name}.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "herald.cli", "worker"],
                env={
                    **os.environ,
                    "DATABASE_URL": database_url(),
                    "HERALD_LOG_LEVEL": "WARNING",
                    **env,
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        """Started: its heartbeat row is written once Django is set up and its loops start."""
        assert self.process.poll() is None, self.output()
        return WorkerHeartbeat.objects.filter(pid=self.pid, stopped_at=None).exists()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGUSR1)  # its threads' stacks, into its log
            time.sleep(1)
            self.kill()
            pytest.fail(f"the worker did not stop within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Polls ``condition`` until true; ``timeout`` only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def bulk_list(name: str, emails: list[str]) -> ContactList:
    """A list of one contact per address, written in bulk (thousands in a moment)."""
    contact_list = ContactList.objects.create(name=name)
    contacts = Contact.objects.bulk_create(
        [Contact(first_name=f"P{i}") for i in range(len(emails))], batch_size=1000
    )
    Address.objects.bulk_create(
        [
            Address(contact=c, position=1, email=e, email_key=e.lower())
            for c, e in zip(contacts, emails, strict=True)
        ],
        batch_size=1000,
    )
    ListMember.objects.bulk_create(
        [ListMember(contact_list=contact_list, contact=c) for c in contacts], batch_size=1000
    )
    return contact_list

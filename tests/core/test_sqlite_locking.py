"""Web and worker share one database (on SQLite, one file): concurrent read-then-write
transactions must wait their turn (BEGIN IMMEDIATE + busy timeout), never fail with
"database is locked"."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from herald.accounts.models import Account
from herald.core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_read_then_write_transactions_never_hit_database_is_locked():
    Account.load()
    errors: list[BaseException] = []
    per_thread = 40

    def writer(n: int) -> None:
        try:
            for i in range(per_thread):
                # Read first, then write: the pattern that fails under SQLite's default DEFERRED
                # transactions when two connections both try to upgrade their read lock.
                with transaction.atomic():
                    account = Account.objects.get(pk=1)
                    WorkerHeartbeat.objects.create(
                        worker_id=f"t{n}-{i}", hostname=account.company_name or "h", pid=n
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert WorkerHeartbeat.objects.count() == 6 * per_thread

"""A worker thread that dies does not leave a process that looks alive and does nothing: the
worker stops, stops counting in /healthz and tells its process, which exits to be restarted."""

from __future__ import annotations

import threading

import pytest
from django.test import Client

from herald.core.models import WorkerHeartbeat
from herald.core.worker import HeraldWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_task_thread_dying_stops_the_worker_and_healthz_says_so(monkeypatch):
    told = threading.Event()
    worker = HeraldWorker(on_failure=told.set)

    def broken() -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(worker.task_worker, "run", broken)
    worker.start()
    assert told.wait(30), "the process was never told"
    worker.wait([])  # returns: the worker is stopping
    worker.stop(timeout=10)

    assert worker.failure == "thread tasks died (RuntimeError: database is locked)"
    assert WorkerHeartbeat.objects.get(worker_id=worker.worker_id).stopped_at is not None
    health = Client().get("/healthz").json()
    assert health["worker"]["ok"] is False
    assert health["status"] == "degraded"


def test_a_thread_ending_by_itself_is_a_failure_too(monkeypatch):
    told = threading.Event()
    worker = HeraldWorker(on_failure=told.set)
    monkeypatch.setattr(worker.task_worker, "run", lambda: None)
    worker.start()
    assert told.wait(30)
    worker.stop(timeout=10)
    assert worker.failure == "thread tasks died (it ended by itself)"


def test_a_worker_asked_to_stop_is_no_failure():
    told = threading.Event()
    worker = HeraldWorker(on_failure=told.set)
    worker.start()
    worker.stop(timeout=30)
    assert worker.failure is None
    assert not told.is_set()

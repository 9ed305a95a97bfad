"""/healthz, /metrics and the structured logs."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from herald.core.models import WorkerHeartbeat
from herald.core.worker import HeraldWorker
from herald.tracking import journal
from tests.core import tasks


def _metric(name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 when the series does not exist yet)."""
    text = Client().get("/metrics").content.decode()
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.django_db
def test_healthz_says_the_database_answers_and_no_worker_beats_yet():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == {"ok": True, "error": None}
    assert body["worker"]["ok"] is False
    assert body["worker"]["heartbeat_age_s"] is None
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_healthz_reports_the_age_of_the_newest_heartbeat(settings):
    settings.WORKER_STALE_SECONDS = 60
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, beat_at=timezone.now() - timedelta(seconds=20)
    )
    body = Client().get("/healthz").json()
    assert body["status"] == "ok"
    assert body["worker"]["ok"] is True
    assert 20 <= body["worker"]["heartbeat_age_s"] < 60

    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(seconds=90))
    body = Client().get("/healthz").json()
    assert body["worker"]["ok"] is False
    assert body["worker"]["heartbeat_age_s"] >= 90


@pytest.mark.django_db
def test_a_stopped_worker_no_longer_counts(settings):
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, beat_at=timezone.now(), stopped_at=timezone.now()
    )
    assert Client().get("/healthz").json()["worker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db" failed: Connection refused')

    monkeypatch.setattr(connection, "cursor", refuse)
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"]["ok"] is False
    assert "Connection refused" in body["database"]["error"]


@pytest.mark.django_db
def test_metrics_count_the_request_just_made(client_for, alice):
    labels = {"method": "GET", "route": "healthz", "status": "200"}
    before = _metric("herald_http_requests_total", **labels)
    Client().get("/healthz")
    assert _metric("herald_http_requests_total", **labels) == before + 1

    # Routes are URL names, not paths: ids in paths would explode the series.
    client_for(alice).get("/mailboxes/sandbox/12345/")
    text = Client().get("/metrics").content.decode()
    assert 'route="mailboxes:sandbox_message"' in text
    # In no label (a sample's value may hold those digits: 0.012345133 s once did).
    assert not re.search(r"\{[^}]*12345[^}]*\}", text)


def _wait_for(result, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not result.is_finished:
        assert time.monotonic() < deadline, f"task still {result.status}"
        time.sleep(0.1)
        result.refresh()


@pytest.mark.django_db(transaction=True)
def test_metrics_count_the_jobs_the_worker_ran():
    ok = {"task": "tests.core.tasks.add", "outcome": "successful"}
    failed = {"task": "tests.core.tasks.fail", "outcome": "failed"}
    ok_before = _metric("herald_jobs_total", **ok)
    failed_before = _metric("herald_jobs_total", **failed)
    worker = HeraldWorker(task_interval=0.1)
    worker.start()
    try:
        added = tasks.add.enqueue(2, 3)
        failing = tasks.fail.enqueue()
        _wait_for(added)
        _wait_for(failing)
    finally:
        worker.stop(timeout=30)
    assert added.return_value == 5
    assert _metric("herald_jobs_total", **ok) == ok_before + 1
    assert _metric("herald_jobs_total", **failed) == failed_before + 1
    assert _metric("herald_job_seconds_count", task="tests.core.tasks.add") >= 1


def _json_lines(caplog_records, handler: logging.Handler) -> list[dict]:
    return [json.loads(handler.format(record)) for record in caplog_records]


@pytest.mark.django_db
def test_each_request_logs_one_json_line_carrying_its_request_id(caplog):
    handler = logging.getLogger().handlers[0]  # the console handler of settings.LOGGING
    with caplog.at_level(logging.INFO, logger="herald.request"):
        response = Client().get("/healthz", headers={"X-Request-ID": "lb-4f2a"})
        generated = Client().get("/healthz")
        forged = Client().get("/healthz", headers={"X-Request-ID": "<script>"})
    assert response["X-Request-ID"] == "lb-4f2a"
    assert re.fullmatch(r"[0-9a-f]{32}", generated["X-Request-ID"])
    assert forged["X-Request-ID"] != "<script>"  # an unsafe id is replaced, not echoed

    for record in caplog.records:
        for f in handler.filters:
            f.filter(record)
    lines = [json.loads(handler.format(r)) for r in caplog.records if r.name == "herald.request"]
    assert [line["request_id"] for line in lines] == [
        "lb-4f2a",
        generated["X-Request-ID"],
        forged["X-Request-ID"],
    ]
    assert lines[0]["path"] == "/healthz"
    assert lines[0]["status"] == 200
    assert lines[0]["level"] == "INFO"
    assert "\n" not in handler.format(caplog.records[0])


@pytest.mark.django_db
def test_healthz_tells_when_no_worker_records_this_machines_tracking_journal(settings, tmp_path):
    settings.TRACKING_JOURNAL_DIR = tmp_path
    settings.WORKER_STALE_SECONDS = 60
    WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, beat_at=timezone.now())
    line = journal.encode("open", 10**9, time.time(), False, None, "192.0.2.1", "Mail")
    segment = tmp_path / "web1-1-1.hits"
    segment.write_bytes(line * 3)
    body = Client().get("/healthz").json()  # just written: a worker has a minute to take it
    assert body["tracking_journal"] == {
        "ok": True,
        "waiting_bytes": 3 * len(line),
        "stale_segments": 0,
    }
    os.utime(segment, (time.time() - 120, time.time() - 120))
    body = Client().get("/healthz").json()
    assert body["tracking_journal"]["ok"] is False
    assert body["status"] == "degraded"
    journal.import_all()  # a worker comes (the hits name no delivery: recorded as nothing)
    body = Client().get("/healthz").json()
    assert body["tracking_journal"] == {"ok": True, "waiting_bytes": 0, "stale_segments": 0}
    assert body["status"] == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice values per thread: Linux")
@pytest.mark.django_db(transaction=True)
def test_the_tracking_journal_loop_yields_the_processor_and_the_other_threads_do_not():
    # Under a burst of opens, answering recipients comes before recording them (the hits are
    # safe in the journal): the importer's thread, and only it, runs at a lower priority.
    base = os.getpriority(os.PRIO_PROCESS, 0)
    worker = HeraldWorker(task_interval=0.1)
    worker.start()
    try:
        threads = {t.name: t.native_id for t in threading.enumerate()}
        importer, heartbeat = threads["loop:tracking-journal"], threads["heartbeat"]
        deadline = time.monotonic() + 30
        wanted = min(base + journal.IMPORT_NICE, 19)
        while os.getpriority(os.PRIO_PROCESS, importer) != wanted:
            assert time.monotonic() < deadline, "the importer's priority was never lowered"
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, heartbeat) == base
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # this thread: the process's first
    finally:
        worker.stop(timeout=30)

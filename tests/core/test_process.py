"""The real `herald run` and `herald worker` commands, started as child processes."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import time
from email.message import EmailMessage
from urllib.request import Request, urlopen

import pytest

from tests.core.processes import (
    ADMIN_EMAIL,
    Browser,
    generated_password,
    herald_env,
    start,
    start_run,
    start_web,
)

ADMIN_PASSWORD = "a long admin password"
STOP_TIMEOUT = 30  # seconds: generous on a loaded machine; a hang fails the test


@pytest.fixture
def herald_run():
    """A running `herald run` with HERALD_ADMIN_PASSWORD set; stopped after the test."""
    running = start_run(herald_env(HERALD_ADMIN_PASSWORD=ADMIN_PASSWORD))
    yield running
    if running.process.poll() is None:
        running.stop()


def test_herald_run_serves_a_login_and_stops_cleanly_on_ctrl_c(herald_run):
    home = Browser(herald_run.url).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert ADMIN_EMAIL in home
    assert 'data-testid="whoami"' in home

    assert herald_run.stop(signal.SIGINT, timeout=STOP_TIMEOUT) == 0
    out = herald_run.stdout()
    assert "Herald stopped." in out
    # Without HERALD_BASE_URL, recipients' links point where this `herald run` listens.
    assert f"Links in sent mail point to http://127.0.0.1:{herald_run.port}/" in out
    assert generated_password(out) is None  # the password came from the environment
    assert "Traceback" not in herald_run.stderr()


def test_a_wrong_password_does_not_log_in(herald_run):
    page = Browser(herald_run.url).login(ADMIN_EMAIL, "not the password")
    assert 'data-testid="whoami"' not in page
    assert 'role="alert"' in page


def test_the_first_start_prints_a_generated_password_once_and_it_logs_in():
    env = herald_env()
    first = start_run(env)
    try:
        password = generated_password(first.stdout())
        assert password, first.stdout()
        assert ADMIN_EMAIL in Browser(first.url).login(ADMIN_EMAIL, password)
    finally:
        assert first.stop() == 0

    second = start_run(env)  # same data directory: the admin exists already
    try:
        assert ADMIN_EMAIL in Browser(second.url).login(ADMIN_EMAIL, password)
    finally:
        assert second.stop() == 0
    assert generated_password(second.stdout()) is None
    assert "Created the first admin" not in second.stdout()


def _multipart(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Campaigns <campaigns@example.com>"
    message["To"] = "customer@example.org"
    message["Subject"] = subject
    message.set_content("Hello in plain text.\n")
    message.add_alternative("<p>Hello in <b>HTML</b>.</p>", subtype="html")
    return message


def test_a_message_sent_to_the_sandbox_port_shows_on_the_sandbox_page(herald_run):
    with smtplib.SMTP("127.0.0.1", herald_run.smtp_port, timeout=20) as smtp:
        smtp.send_message(_multipart("Your November statement"))

    browser = Browser(herald_run.url)
    browser.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    status, body = browser.get("/mailboxes/sandbox/")
    page = body.decode()
    assert status == 200
    assert "Your November statement" in page
    assert "customer@example.org" in page
    message_id = re.search(r'href="/mailboxes/sandbox/(\d+)/"', page).group(1)

    status, html = browser.get(f"/mailboxes/sandbox/{message_id}/html/")
    assert status == 200
    assert b"<p>Hello in <b>HTML</b>.</p>" in html

    with browser.get_response(f"/mailboxes/sandbox/{message_id}/raw/") as response:
        assert response.headers["Content-Type"] == "message/rfc822"
        assert ".eml" in response.headers["Content-Disposition"]
        raw = response.read()
    assert b"Subject: Your November statement" in raw
    assert b"Hello in plain text." in raw


def _health(url: str) -> dict:
    status, body = Browser(url).get("/healthz")
    assert status == 200
    return json.loads(body)


def test_herald_worker_beats_for_healthz_and_stops_cleanly_on_sigterm():
    env = herald_env(
        HERALD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        HERALD_WORKER_HEARTBEAT_SECONDS="1",
        HERALD_WORKER_STALE_SECONDS="5",
    )
    # `herald web` alone: /healthz tells about the workers that run elsewhere.
    web = start_web(env)
    try:
        assert _health(web.url)["worker"]["ok"] is False  # no worker has ever run

        worker = start(["worker"], env)
        deadline = time.monotonic() + 60
        while not _health(web.url)["worker"]["ok"]:
            assert worker.process.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, "the worker never reported to /healthz"
            time.sleep(0.3)

        assert worker.stop(signal.SIGTERM, timeout=STOP_TIMEOUT) == 0
        assert "Worker stopped." in worker.stdout()
        assert "Traceback" not in worker.stderr()

        # A stopped worker says so at once; a killed one goes stale after 5 seconds.
        assert _health(web.url)["worker"]["ok"] is False
    finally:
        web.stop()


def test_a_killed_worker_goes_stale_on_healthz():
    env = herald_env(HERALD_WORKER_HEARTBEAT_SECONDS="1", HERALD_WORKER_STALE_SECONDS="5")
    web = start_web(env)
    try:
        worker = start(["worker"], env)
        deadline = time.monotonic() + 60
        while not _health(web.url)["worker"]["ok"]:
            assert time.monotonic() < deadline, worker.stderr()
            time.sleep(0.3)
        worker.stop(signal.SIGKILL)  # no chance to say it stopped: only the heartbeat's age tells
        deadline = time.monotonic() + 60
        while (report := _health(web.url)["worker"])["ok"]:
            assert time.monotonic() < deadline, "a dead worker still reported healthy"
            time.sleep(0.5)
        assert report["heartbeat_age_s"] > 5
    finally:
        web.stop()


def test_herald_run_logs_one_json_object_per_line_with_the_request_id(herald_run):
    request = Request(herald_run.url + "/healthz", headers={"X-Request-ID": "probe-7"})
    with urlopen(request, timeout=20) as response:
        assert response.headers["X-Request-ID"] == "probe-7"
    herald_run.stop()
    lines = [json.loads(line) for line in herald_run.stderr().splitlines()]
    [logged] = [line for line in lines if line.get("request_id") == "probe-7"]
    assert logged["path"] == "/healthz"
    assert logged["status"] == 200
    assert {"time", "level", "logger", "message"} <= set(logged)

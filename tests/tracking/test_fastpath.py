"""The open pixel and click redirect answered in front of Django: many concurrent requests are
recorded in a few transactions, each answered after its batch is committed; over real HTTP
with curl too, the one-click unsubscribe exactly as Gmail sends it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.db import connections

from herald.campaigns import tokens
from herald.campaigns.models import Event
from herald.contacts.models import Suppression
from herald.tracking import recording
from herald.tracking.fastpath import Recorder, TrackingFastPath
from herald.tracking.pixel import GIF

pytestmark = pytest.mark.django_db(transaction=True)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


async def _request(app, method, path, user_agent=BROWSER):
    sent = []
    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"user-agent", user_agent.encode())],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


class CountingRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def _write(self, batch):
        self.batches.append(len(batch))
        super()._write(batch)


@pytest.fixture
def fast() -> Iterator[tuple[TrackingFastPath, CountingRecorder]]:
    recorder = CountingRecorder()
    yield TrackingFastPath(get_asgi_application(), recorder), recorder
    recorder.stop()


def test_concurrent_opens_are_all_recorded_in_few_transactions(send_campaign, fast):
    app, recorder = fast
    sent = send_campaign()
    pixels = [sent.pixel(a) for a in ("ann@example.com", "bob@example.com", "cy@example.com")]

    async def many():
        return await asyncio.gather(*[_request(app, "GET", pixels[i % 3]) for i in range(300)])

    answers = asyncio.run(many())
    assert {(status, body) for status, _headers, body in answers} == {(200, GIF)}
    assert Event.objects.filter(kind="opened").count() == 300
    assert sum(recorder.batches) == 300
    assert len(recorder.batches) < 300  # grouped: requests that came together, one commit


def test_the_fast_path_redirects_only_to_the_messages_links(send_campaign, fast):
    app, _ = fast
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    status, headers, _ = asyncio.run(_request(app, "GET", f"/c/{token}/1"))
    assert (status, headers[b"location"]) == (302, b"https://example.com/terms?a=1&b=2")
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    for path in (f"/c/{token}/9", f"/c/{flipped}/0", f"/o/{flipped}.gif", f"/c/{token}/0/x"):
        assert asyncio.run(_request(app, "GET", path))[0] == 404, path
    status, _, body = asyncio.run(_request(app, "HEAD", f"/c/{token}/0"))
    assert (status, body) == (302, b"")
    assert Event.objects.get(kind="clicked", data__link=0).data["why"] == "head-request"


def test_other_pages_go_on_to_django(fast):
    app, recorder = fast
    status, _, _ = asyncio.run(_request(app, "GET", "/healthz"))
    assert status in (200, 503)
    assert recorder.batches == []


def test_a_failing_database_still_shows_the_pixel_and_asks_to_retry_a_click(
    send_campaign, fast, monkeypatch
):
    app, _ = fast
    sent = send_campaign()

    def broken(hits):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(recording, "record", broken)
    assert asyncio.run(_request(app, "GET", sent.pixel("bob@example.com")))[0] == 200
    assert asyncio.run(_request(app, "GET", sent.path("bob@example.com", "/c/")))[0] == 503


# -- over real HTTP -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web() -> Iterator[str]:
    """Herald's ASGI application (fast path + Django) served by uvicorn on a free port."""
    for alias in connections:  # each request's connection closes at its end (no stale ones)
        connections.settings[alias]["CONN_MAX_AGE"] = 0
    recorder = Recorder()
    port = _free_port()
    config = uvicorn.Config(
        TrackingFastPath(get_asgi_application(), recorder),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    recorder.stop()


def _curl(*args: str) -> str:
    curl = shutil.which("curl")
    assert curl, "curl is needed (apt-get install curl)"
    done = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_over_http_the_pixel_the_click_and_gmails_one_click_post(send_campaign, web):
    sent = send_campaign()
    assert _curl("-A", BROWSER, web + sent.pixel("ann@example.com")) == "200"
    assert _curl("-A", BROWSER, web + sent.path("ann@example.com", "/c/")) == (
        "302 https://example.com/offer"
    )
    link = web + sent.path("ann@example.com", "/u/")
    assert _curl(link).startswith("200")  # the GET a scanner makes: nothing happens
    assert not Suppression.objects.exists()
    # What Gmail sends (RFC 8058 section 3.2): a POST with this form body, no cookie.
    one_click = ["-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded"]
    assert _curl(*one_click, "--data", "List-Unsubscribe=One-Click", link).startswith("200")
    assert _curl(*one_click, "--data", "List-Unsubscribe=One-Click", link).startswith("200")
    assert Suppression.objects.get(value="ann@example.com").reason == "unsubscribed"
    assert Event.objects.filter(kind="unsubscribed").count() == 1
    assert Event.objects.filter(kind__in=["opened", "clicked"]).count() == 2

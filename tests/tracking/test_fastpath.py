"""The open pixel and click redirect answered in front of Django: many concurrent requests are
recorded in a few transactions, each answered after its batch is committed; over real HTTP
with curl too, the one-click unsubscribe exactly as Gmail sends it."""

from __future__ import annotations

import asyncio
import re
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
from django.db.models import Sum

from herald.campaigns import tokens
from herald.campaigns.models import Event
from herald.contacts.models import Suppression
from herald.tracking import journal, protocol, recording
from herald.tracking.fastpath import TrackingFastPath
from herald.tracking.models import Tally
from herald.tracking.pixel import GIF
from herald.tracking.protocol import TrackingProtocol

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


@pytest.fixture
def syncs(monkeypatch) -> list[int]:
    """How many hits each write of the journal held."""
    groups: list[int] = []
    append = journal._Segment.append

    def counting(self, data, hits):
        groups.append(hits)
        return append(self, data, hits)

    monkeypatch.setattr(journal._Segment, "append", counting)
    return groups


@pytest.fixture
def fast(tracker) -> TrackingFastPath:
    return TrackingFastPath(get_asgi_application())


def test_concurrent_opens_are_all_answered_written_together_and_recorded_once(
    send_campaign, fast, syncs
):
    sent = send_campaign()
    pixels = [sent.pixel(a) for a in ("ann@example.com", "bob@example.com", "cy@example.com")]

    async def many():
        return await asyncio.gather(*[_request(fast, "GET", pixels[i % 3]) for i in range(300)])

    answers = asyncio.run(many())
    assert {(status, body) for status, _headers, body in answers} == {(200, GIF)}
    assert sum(syncs) == 300
    assert len(syncs) < 300  # requests that came together, one write
    assert Event.objects.filter(kind="opened").count() == 0  # in the journal; a worker records
    journal.import_all()
    assert Event.objects.filter(kind="opened").count() == 300
    journal.import_all()  # nothing twice
    assert Event.objects.filter(kind="opened").count() == 300
    assert Tally.objects.filter(name="opened").aggregate(n=Sum("n"))["n"] == 300


def test_the_fast_path_redirects_only_to_the_messages_links(send_campaign, fast):
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    status, headers, _ = asyncio.run(_request(fast, "GET", f"/c/{token}/1"))
    assert (status, headers[b"location"]) == (302, b"https://example.com/terms?a=1&b=2")
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    for path in (f"/c/{token}/9", f"/c/{flipped}/0", f"/o/{flipped}.gif", f"/c/{token}/0/x"):
        assert asyncio.run(_request(fast, "GET", path))[0] == 404, path
    unknown = tokens.reply_token(10**9)  # well signed, but no such delivery
    assert asyncio.run(_request(fast, "GET", f"/c/{unknown}/0"))[0] == 404
    status, _, body = asyncio.run(_request(fast, "HEAD", f"/c/{token}/0"))
    assert (status, body) == (302, b"")
    journal.import_all()
    assert Event.objects.get(kind="clicked", data__link=0).data["why"] == "head-request"
    assert Event.objects.filter(kind="clicked").count() == 2


def test_a_click_whose_delivery_and_campaign_are_at_hand_is_answered_without_a_query(
    send_campaign, fast, monkeypatch
):
    sent = send_campaign()
    lookups = []
    lookup = recording.lookup

    def counting(hits):
        lookups.append(len(hits))
        return lookup(hits)

    monkeypatch.setattr(recording, "lookup", counting)
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    for _ in range(3):
        status, headers, _ = asyncio.run(_request(fast, "GET", f"/c/{token}/0"))
        assert (status, headers[b"location"]) == (302, b"https://example.com/offer")
    assert lookups == [1]  # the first one asked the database; the next two did not
    # A link made of the recipient's variables is rendered for them; an unknown one is asked for.
    status, headers, _ = asyncio.run(_request(fast, "GET", f"/c/{token}/2"))
    assert (status, headers[b"location"]) == (302, b"https://example.com/me?id=C1")
    assert asyncio.run(_request(fast, "GET", f"/c/{token}/9"))[0] == 404
    assert lookups == [1, 1, 1]
    journal.import_all()
    assert Event.objects.filter(kind="clicked").count() == 4


def test_clicks_are_not_kept_waiting_while_their_campaign_is_read_again(
    send_campaign, fast, monkeypatch
):
    # Under load the resolver thread waits long for the interpreter lock: a click whose
    # campaign is due to be read again is answered from what the process holds meanwhile.
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    assert asyncio.run(_request(fast, "GET", f"/c/{token}/0"))[0] == 302  # now held
    for held in recording._campaigns.values():
        held.expires = 0.0  # its CAMPAIGN_SECONDS are up
    reading, release = threading.Event(), threading.Event()
    lookups = []
    lookup = recording.lookup

    def slow(hits):
        lookups.append(len(hits))
        reading.set()
        assert release.wait(30), "the test never let the lookup finish"
        return lookup(hits)

    monkeypatch.setattr(recording, "lookup", slow)
    try:
        for _ in range(3):
            status, headers, _ = asyncio.run(_request(fast, "GET", f"/c/{token}/0"))
            assert (status, headers[b"location"]) == (302, b"https://example.com/offer")
        assert reading.wait(30), "the campaign was never read again"
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while min(h.expires for h in recording._campaigns.values()) <= time.monotonic():
        assert time.monotonic() < deadline, "the campaign read again was not kept"
        time.sleep(0.01)
    assert lookups == [1]  # three stale clicks, one reading
    journal.import_all()
    assert Event.objects.filter(kind="clicked").count() == 4


def test_other_pages_go_on_to_django(fast, syncs):
    status, _, _ = asyncio.run(_request(fast, "GET", "/healthz"))
    assert status in (200, 503)
    assert syncs == []


def test_a_journal_that_cannot_be_written_still_shows_the_pixel_and_asks_to_retry_a_click(
    send_campaign, fast, settings, tmp_path
):
    sent = send_campaign()
    (tmp_path / "a-file").write_text("")
    settings.TRACKING_JOURNAL_DIR = tmp_path / "a-file" / "journal"  # not a directory
    assert asyncio.run(_request(fast, "GET", sent.pixel("bob@example.com")))[0] == 200
    assert asyncio.run(_request(fast, "GET", sent.path("bob@example.com", "/c/")))[0] == 503


def test_a_failing_database_asks_to_retry_a_click(send_campaign, fast, monkeypatch):
    sent = send_campaign()

    def broken(hits):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(recording, "lookup", broken)
    assert asyncio.run(_request(fast, "GET", sent.path("bob@example.com", "/c/")))[0] == 503
    assert asyncio.run(_request(fast, "GET", sent.pixel("bob@example.com")))[0] == 200


# -- over real HTTP -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web(tracker) -> Iterator[str]:
    """Herald's ASGI application (fast path + Django) served by uvicorn on a free port, with
    the tracking protocol, as ``herald web`` serves it."""
    for alias in connections:  # each request's connection closes at its end (no stale ones)
        connections.settings[alias]["CONN_MAX_AGE"] = 0
    port = _free_port()
    config = uvicorn.Config(
        TrackingFastPath(get_asgi_application()),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        http=TrackingProtocol,
        timeout_keep_alive=2,
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
    journal.import_all()
    assert Event.objects.filter(kind__in=["opened", "clicked"]).count() == 2


def _exchange(web: str, data: bytes, *, responses: int, heads: tuple[int, ...] = ()) -> list[bytes]:
    """Sends raw bytes on one connection; each response whole, in order (those numbered in
    ``heads`` answer a HEAD: no body)."""
    host, port = web.removeprefix("http://").split(":")
    answers: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while len(answers) < responses:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                assert chunk, f"the server closed the connection after {answers}"
                received += chunk
            head, _, received = received.partition(b"\r\n\r\n")
            found = re.search(rb"(?im)^content-length: *(\d+)", head)
            length = 0 if len(answers) in heads or found is None else int(found[1])
            while len(received) < length:
                received += sock.recv(65536)
            answers.append(head + b"\r\n\r\n" + received[:length])
            received = received[length:]
    return answers


def _get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", f"User-Agent: {BROWSER}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def test_pipelined_requests_on_one_connection_are_answered_in_order(send_campaign, web):
    sent = send_campaign()
    pixel, click = sent.pixel("ann@example.com"), sent.path("bob@example.com", "/c/")
    # A tracking request behind a Django page (it waits its turn), and Django behind one.
    data = _get(pixel) + _get("/healthz") + _get(click) + _get("/healthz") + _get(pixel)
    answers = _exchange(web, data, responses=5)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 200 OK",
        *[answers[1].split(b"\r\n", 1)[0]],  # /healthz: 200 or 503 (no worker here)
        b"HTTP/1.1 302 Found",
        *[answers[3].split(b"\r\n", 1)[0]],
        b"HTTP/1.1 200 OK",
    ]
    assert answers[0].endswith(GIF)
    assert answers[4].endswith(GIF)
    assert b"application/json" in answers[1]
    assert b"application/json" in answers[3]
    assert b"location: https://example.com/offer" in answers[2]
    clicks = b"".join(_get(sent.path(a, "/c/")) for a in ("ann@example.com", "cy@example.com"))
    for _ in range(20):  # the first of each pair is answered by the protocol itself
        _exchange(web, clicks, responses=2)
    # Only the tracker's few constant header sets are kept encoded, not every redirect's.
    assert len(protocol._ENCODED) <= 3
    journal.import_all()
    assert Event.objects.filter(kind="opened").count() == 2
    assert Event.objects.filter(kind="clicked").count() == 1 + 40


def test_keep_alive_head_http_1_0_and_a_forwarded_client_address(send_campaign, web):
    sent = send_campaign()
    pixel = sent.pixel("cy@example.com")
    # HEAD: the GIF's headers, no body; the connection stays open for the next request.
    head, again = _exchange(web, _get(pixel, method="HEAD") + _get(pixel), responses=2, heads=(0,))
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert head.endswith(b"\r\n\r\n")
    assert b"content-length: 43" in head.lower()
    assert b"no-store" in head
    assert again.endswith(GIF)
    # HTTP/1.0 and "Connection: close": answered, then closed.
    for request in (_get(pixel, version="1.0"), _get(pixel, "Connection: close")):
        host, port = web.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received.endswith(GIF)
        assert b"connection: close" in received.lower()
    # 127.0.0.1 is a trusted proxy (uvicorn's default): the address it forwards is the reader's.
    _exchange(web, _get(pixel, "X-Forwarded-For: 17.58.1.2"), responses=1)
    journal.import_all()
    opens = list(Event.objects.filter(kind="opened").order_by("id"))
    # Stored anonymized (the account's default); judged on the whole address: Apple's proxies.
    assert [e.data["ip"] for e in opens] == ["127.0.0.0"] * 4 + ["17.58.1.0"]
    # (the first is a HEAD request; the next came too soon after sending to be a person)
    assert [e.data["why"] for e in opens] == ["head-request", *["too-soon"] * 3, "apple-mpp"]

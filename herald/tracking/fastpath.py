"""The open pixel and click redirect, answered in front of Django: the hottest URLs Herald serves.

Every recipient who opens a message fetches the pixel, mail proxies and scanners fetch it again,
and a campaign of a million messages brings a million of these requests within hours. Django's
full stack (sessions, CSRF, authentication, locale, messages) costs more than the work itself,
and none of it applies to these two URLs, so the ASGI application (``herald.asgi``) sends
``GET|HEAD /o/<token>.gif`` and ``/c/<token>/<n>`` here; everything else, and any other method,
goes to Django, whose views answer the same URLs the same way (``views.open_pixel``,
``views.click``) for the test client and for servers that do not run this path
(``HERALD_TRACKING_FAST_PATH=0``). These requests skip Django's middleware, so they get no
per-request log line or request metrics: the events they record are their log.

Events are recorded durably before the answer goes out, in *group commit*: each request puts its
hit on a queue and waits; a writer thread (two on PostgreSQL) takes everything queued, records
it in one transaction (``recording.record``) and wakes every waiting request with its result. Under
load a batch holds as many hits as arrived while the previous one was being written, so the
database sees a few statements per batch instead of one transaction per request; when idle a
hit is written at once. Nothing is acknowledged before it is committed, and a writer that fails
answers its batch with an error (the pixel is still shown; a click gets 503) — no queue holds
work across a restart.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from herald.campaigns.tokens import delivery_id
from herald.tracking import recording
from herald.tracking.pixel import GIF

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_OPEN = re.compile(r"/o/([A-Za-z2-7]{20})\.gif")
_CLICK = re.compile(r"/c/([A-Za-z2-7]{20})/(\d{1,6})")
IDLE_SECONDS = 30.0  # a writer idle this long checks its database connection before writing

_GIF_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    # Every open must reach us: no cache may answer for us, nor the mail program reuse it.
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]
_NOT_FOUND = b"Not found: this link is not one of ours, or it was changed on the way.\n"
_UNAVAILABLE = b"Herald cannot answer this link right now; please try again in a moment.\n"


class Recorder:
    """Writer threads: hits in, results out once their batch is committed.

    On PostgreSQL two writers take turns, so that one gathers the next batch while the other
    waits for its commit to reach the disk; SQLite writes one transaction at a time anyway.
    """

    def __init__(self, batch: int | None = None, writers: int | None = None) -> None:
        self.batch = batch or settings.TRACKING_BATCH
        self.writers = writers
        # None asks one writer to stop.
        self._queue: queue.SimpleQueue[tuple[recording.Hit, asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._last_write = time.monotonic()

    def submit(self, hit: recording.Hit) -> asyncio.Future[Any]:
        if not self._threads:
            self._start()
        future = asyncio.get_running_loop().create_future()
        self._queue.put((hit, future))
        return future

    def _start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            writers = self.writers or (2 if connection.vendor == "postgresql" else 1)
            for n in range(writers):
                thread = threading.Thread(
                    target=self._run, name=f"herald-tracking-writer-{n}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        """Writes what is queued, closes the writers' database connections and ends them."""
        with self._start_lock:
            threads, self._threads = self._threads, []
        for _thread in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < self.batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)  # stop after this batch
                        break
                    batch.append(item)
                self._write(batch)
        finally:
            connection.close()

    def _write(self, batch: list[tuple[recording.Hit, asyncio.Future[Any]]]) -> None:
        if time.monotonic() - self._last_write > IDLE_SECONDS:
            close_old_connections()  # a connection the server dropped meanwhile is replaced
        try:
            outcomes: list[Any] = recording.record([hit for hit, _ in batch])
        except Exception as exc:
            logger.exception("recording tracking events failed", extra={"hits": len(batch)})
            connection.close()  # the next batch starts on a fresh connection
            outcomes = [exc] * len(batch)
        self._last_write = time.monotonic()
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for (_hit, future), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(future.get_loop(), []).append((future, outcome))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in items:
        if future.done():
            continue  # the client went away
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, head: bool
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _text(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]


class TrackingFastPath:
    """ASGI middleware: answers opens and clicks itself, passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, recorder: Recorder | None = None) -> None:
        self.app = app
        self.recorder = recorder or Recorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path.startswith("/o/"):
                match = _OPEN.fullmatch(path)
                if match:
                    await self._open(scope, send, match.group(1))
                    return
            elif path.startswith("/c/"):
                match = _CLICK.fullmatch(path)
                if match:
                    await self._click(scope, send, match.group(1), int(match.group(2)))
                    return
        await self.app(scope, receive, send)

    def _hit(self, scope: Scope, kind: str, ident: int, link: int | None = None) -> recording.Hit:
        client = scope.get("client")
        return recording.Hit(
            kind=kind,
            delivery_id=ident,
            at=timezone.now(),
            user_agent=_header(scope, b"user-agent"),
            ip=client[0] if client else "",
            head=scope["method"] == "HEAD",
            link=link,
        )

    async def _open(self, scope: Scope, send: Send, token: str) -> None:
        head = scope["method"] == "HEAD"
        ident = delivery_id(token)
        if ident is None:
            await _answer(send, 404, _text(_NOT_FOUND), _NOT_FOUND, head=head)
            return
        try:
            result = await self.recorder.submit(self._hit(scope, recording.OPEN, ident))
        except Exception:
            result = None  # logged by the writer; the reader still gets the image
        if result is not None and not result.found:
            await _answer(send, 404, _text(_NOT_FOUND), _NOT_FOUND, head=head)
            return
        await _answer(send, 200, _GIF_HEADERS, GIF, head=head)

    async def _click(self, scope: Scope, send: Send, token: str, link: int) -> None:
        head = scope["method"] == "HEAD"
        ident = delivery_id(token)
        if ident is None:
            await _answer(send, 404, _text(_NOT_FOUND), _NOT_FOUND, head=head)
            return
        try:
            result = await self.recorder.submit(self._hit(scope, recording.CLICK, ident, link))
        except Exception:
            await _answer(send, 503, _text(_UNAVAILABLE), _UNAVAILABLE, head=head)
            return
        if not result.found or not result.url:
            await _answer(send, 404, _text(_NOT_FOUND), _NOT_FOUND, head=head)
            return
        headers = [
            (b"location", iri_to_uri(result.url).encode("latin-1")),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
        ]
        await _answer(send, 302, headers, b"", head=head)


def wrap(app: ASGIApp) -> ASGIApp:
    """The ASGI application with the fast path in front, when the settings want it."""
    if not settings.TRACKING_FAST_PATH:
        return app
    return TrackingFastPath(app)

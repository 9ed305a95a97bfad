"""The open pixel and click redirect, answered in front of Django: the hottest URLs Herald serves.

Every recipient who opens a message fetches the pixel, mail proxies and scanners fetch it again,
and a campaign of a million messages brings a million of these requests within hours. Django's
full stack (sessions, CSRF, authentication, locale, messages) costs more than the work itself,
and none of it applies to these two URLs. ``Tracker`` answers ``GET|HEAD /o/<token>.gif`` and
``/c/<token>/<n>`` for two front doors: ``herald.tracking.protocol`` (uvicorn's HTTP protocol,
which answers them without building an ASGI request at all) and ``TrackingFastPath`` (ASGI
middleware, for what reaches the application anyway: a request pipelined behind another, one
with a query string). Everything else, and any other method, goes to Django, whose views answer
the same URLs the same way (``views.open_pixel``, ``views.click``) for the test client and for
servers that do not run this path (``HERALD_TRACKING_FAST_PATH=0``). These requests skip
Django's middleware, so they get no per-request log line or request metrics: the events they
record are their log.

Each hit is written to the tracking journal (``journal``) before its answer goes out, and
recorded in the database by the workers. A click needs its URL first: a resolver thread looks
up the deliveries of all the clicks that came in meanwhile in one query (``recording.lookup``;
deliveries and campaigns are kept per process). A pixel is shown even when the journal cannot
be written (that is logged); a click then gets 503, asking the reader to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import queue
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.encoding import iri_to_uri

from herald.campaigns.tokens import delivery_id
from herald.tracking import journal, recording
from herald.tracking.pixel import GIF

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]
Answer = Callable[[int, Headers, bytes], None]  # status, headers, body (dropped for HEAD)

OPEN_PATH = re.compile(r"/o/([A-Za-z2-7]{20})\.gif")
CLICK_PATH = re.compile(r"/c/([A-Za-z2-7]{20})/(\d{1,6})")
IDLE_SECONDS = 30.0  # a resolver idle this long checks its database connection first

# Constant headers are tuples: the protocol keeps their encoding (herald.tracking.protocol).
GIF_HEADERS: Headers = (
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    # Every open must reach us: no cache may answer for us, nor the mail program reuse it.
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
)
_NOT_FOUND = b"Not found: this link is not one of ours, or it was changed on the way.\n"
_UNAVAILABLE = b"Herald cannot answer this link right now; please try again in a moment.\n"


def _text(body: bytes) -> Headers:
    return (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    )


NOT_FOUND_HEADERS = _text(_NOT_FOUND)
UNAVAILABLE_HEADERS = _text(_UNAVAILABLE)

Resolved = Callable[[recording.Result | BaseException], None]


class Resolver:
    """A thread that looks up clicks' deliveries and URLs, many clicks per query.

    ``submit`` may be called from any event loop's thread; ``done`` runs in that loop with the
    result (or the exception the lookup raised)."""

    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch or settings.TRACKING_BATCH
        # None asks the thread to stop.
        self._queue: queue.SimpleQueue[
            tuple[recording.Hit, asyncio.AbstractEventLoop, Resolved] | None
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last = time.monotonic()

    def submit(self, hit: recording.Hit, done: Resolved) -> None:
        if self._thread is None:
            self._start()
        self._queue.put((hit, asyncio.get_running_loop(), done))

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="herald-tracking-resolver", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Answers what is queued, closes the thread's database connection and ends it."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while batch := journal.take_batch(self._queue, self.batch):
                self._resolve(batch)
        finally:
            connection.close()

    def _resolve(
        self, batch: list[tuple[recording.Hit, asyncio.AbstractEventLoop, Resolved]]
    ) -> None:
        if time.monotonic() - self._last > IDLE_SECONDS:
            close_old_connections()  # a connection the server dropped meanwhile is replaced
        try:
            outcomes: list[Any] = recording.lookup([hit for hit, _, _ in batch])
        except Exception as exc:
            logger.exception("looking up tracked links failed", extra={"hits": len(batch)})
            connection.close()  # the next batch starts on a fresh connection
            outcomes = [exc] * len(batch)
        self._last = time.monotonic()
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Resolved, Any]]] = {}
        for (_hit, loop, done), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((done, outcome))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[Resolved, Any]]) -> None:
    for done, outcome in items:
        done(outcome)


class Tracker:
    """Answers an open or a click once its hit is in the journal (and a click's URL known)."""

    def __init__(
        self, writer: journal.Writer | None = None, resolver: Resolver | None = None
    ) -> None:
        self.writer = writer or journal.writer()
        self.resolver = resolver or Resolver()
        self._refresh_asked: dict[int, float] = {}  # campaign -> when to ask again (monotonic)

    def stop(self) -> None:
        self.resolver.stop()

    def open(self, token: str, user_agent: str, ip: str, head: bool, answer: Answer) -> None:
        """Answers ``GET|HEAD /o/<token>.gif``."""
        ident = delivery_id(token)
        if ident is None:
            answer(404, NOT_FOUND_HEADERS, _NOT_FOUND)
            return
        line = journal.encode(recording.OPEN, ident, time.time(), head, None, ip, user_agent)
        # The reader gets the image even when the journal failed (the writer logged it).
        self.writer.submit(line, lambda error: answer(200, GIF_HEADERS, GIF))

    def click(  # noqa: PLR0917 - the request's parts, as open() takes them
        self, token: str, link: int, user_agent: str, ip: str, head: bool, answer: Answer
    ) -> None:
        """Answers ``GET|HEAD /c/<token>/<link>``."""
        ident = delivery_id(token)
        if ident is None:
            answer(404, NOT_FOUND_HEADERS, _NOT_FOUND)
            return
        now = time.time()
        line = journal.encode(recording.CLICK, ident, now, head, link, ip, user_agent)
        cached = recording.cached_url(ident, link)
        if cached is not None:
            self._redirect(line, cached.url, answer)
            if cached.stale:
                self._read_again(cached.campaign_id, ident, now, link)
            return

        def resolved(result: recording.Result | BaseException) -> None:
            if isinstance(result, BaseException):
                answer(503, UNAVAILABLE_HEADERS, _UNAVAILABLE)
            elif not result.found or not result.url:
                answer(404, NOT_FOUND_HEADERS, _NOT_FOUND)
            else:
                self._redirect(line, result.url, answer)

        at = dt.datetime.fromtimestamp(now, dt.UTC)
        hit = recording.Hit(recording.CLICK, ident, at, user_agent, ip, head=head, link=link)
        self.resolver.submit(hit, resolved)

    def _read_again(self, campaign_id: int, ident: int, now: float, link: int) -> None:
        """Has the resolver read a campaign again (a lookup does), at most once per
        CAMPAIGN_SECONDS; nobody waits for it."""
        if self._refresh_asked.get(campaign_id, 0.0) > time.monotonic():
            return
        self._refresh_asked[campaign_id] = time.monotonic() + recording.CAMPAIGN_SECONDS
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        self.resolver.submit(recording.Hit(recording.CLICK, ident, at, link=link), _ignore)

    def _redirect(self, line: bytes, url: str, answer: Answer) -> None:
        location = _location(url)

        def written(error: BaseException | None) -> None:
            if error is not None:
                answer(503, UNAVAILABLE_HEADERS, _UNAVAILABLE)
            else:
                answer(302, [(b"location", location), *_REDIRECT_HEADERS], b"")  # a list: not kept

        self.writer.submit(line, written)


def _ignore(result: object) -> None:
    return None


@functools.lru_cache(maxsize=4096)
def _location(url: str) -> bytes:
    return iri_to_uri(url).encode("latin-1")


_REDIRECT_HEADERS = (
    (b"content-length", b"0"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
)


_tracker: list[Tracker] = []


def tracker() -> Tracker:
    """The process's tracker (made on first use: after a fork, in the child)."""
    if not _tracker:
        _tracker.append(Tracker())
    return _tracker[0]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


class TrackingFastPath:
    """ASGI middleware: answers opens and clicks itself, passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, answering: Tracker | None = None) -> None:
        self.app = app
        self._tracker = answering  # None: the process's

    @property
    def tracker(self) -> Tracker:
        return self._tracker or tracker()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path.startswith("/o/"):
                match = OPEN_PATH.fullmatch(path)
                if match:
                    await self._serve(scope, send, self.tracker.open, match.group(1))
                    return
            elif path.startswith("/c/"):
                match = CLICK_PATH.fullmatch(path)
                if match:
                    token, link = match.group(1), int(match.group(2))
                    await self._serve(scope, send, self.tracker.click, token, link)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, send: Send, method: Any, *args: Any) -> None:
        future: asyncio.Future[tuple[int, Headers, bytes]] = (
            asyncio.get_running_loop().create_future()
        )

        def answer(status: int, headers: Headers, body: bytes) -> None:
            if not future.done():
                future.set_result((status, headers, body))

        client = scope.get("client")
        head = scope["method"] == "HEAD"
        method(*args, _header(scope, b"user-agent"), client[0] if client else "", head, answer)
        status, headers, body = await future
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})


def wrap(app: ASGIApp) -> ASGIApp:
    """The ASGI application with the fast path in front, when the settings want it."""
    if not settings.TRACKING_FAST_PATH:
        return app
    return TrackingFastPath(app)

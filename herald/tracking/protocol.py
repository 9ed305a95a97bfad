"""uvicorn's HTTP protocol, answering the open pixel and the click redirect without ASGI.

uvicorn turns each request into an ASGI scope, a task and a pair of send/receive coroutines:
about three quarters of what a tracking request costs once its hit is journaled. This subclass of
uvicorn's httptools protocol (``herald web`` and ``herald run`` serve with it) takes a request
whose head the parser has read and that is ``GET|HEAD /o/<token>.gif`` or ``/c/<token>/<n>``
(no query string), when no other request of the connection is being answered, and has the
``fastpath.Tracker`` answer it straight onto the connection. Anything else, a pipelined request
behind an unanswered one included, takes uvicorn's ordinary path, where ``TrackingFastPath``
answers the tracking URLs the same way. Keep-alive, the keep-alive timeout, pipelining order,
graceful shutdown and the trusted proxies' ``X-Forwarded-For`` work as for every other request:
while an answer waits for the journal, the request stands in uvicorn's place of the current
one (``_Answering``), so that uvicorn queues what comes next behind it.

This module imports only uvicorn at first: uvicorn's worker processes load it before Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import Sequence
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# The pixel (group 1: its token) or a link (group 2: its token, group 3: its number).
_TRACKED = re.compile(rb"/(?:o/([A-Za-z2-7]{20})\.gif|c/([A-Za-z2-7]{20})/(\d{1,6}))")


def _lines(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


_ENCODED: dict[int, tuple[object, bytes]] = {}
_KEPT = 16
_DEFAULTS: list[Any] = [None, b""]


def _encoded(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Header lines; kept for a tuple (the tracker's constant headers, compared by identity: a
    request's own headers, such as a redirect's, come as a list and are not kept). At most
    ``_KEPT`` are kept, should per-request tuples ever come."""
    cached = _ENCODED.get(id(headers))
    if cached is not None and cached[0] is headers:
        return cached[1]
    encoded = _lines(headers)
    if type(headers) is tuple and len(_ENCODED) < _KEPT:
        _ENCODED[id(headers)] = (headers, encoded)
    return encoded


def _defaults(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """uvicorn's default header lines (server, date), kept until uvicorn makes new ones (each
    second, for the date)."""
    if _DEFAULTS[0] is not headers:
        _DEFAULTS[:] = [headers, _lines(headers)]
    return _DEFAULTS[1]


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


@functools.lru_cache(maxsize=4)
def _proxy_headers(trusted: str | tuple[str, ...]) -> ProxyHeadersMiddleware:
    """uvicorn's middleware for these trusted proxies, made once (it parses their list)."""
    return ProxyHeadersMiddleware(
        _nothing, list(trusted) if isinstance(trusted, tuple) else trusted
    )


class _Answering:
    """A tracking request being answered, in the place uvicorn keeps its current request;
    called with the answer (status, headers, body)."""

    __slots__ = (
        "disconnected",
        "head",
        "keep_alive",
        "match",
        "message_event",
        "protocol",
        "response_complete",
    )

    def __init__(
        self, protocol: TrackingProtocol, match: re.Match[bytes], *, head: bool, keep_alive: bool
    ) -> None:
        self.protocol = protocol
        self.match = match
        self.head = head
        self.keep_alive = keep_alive  # uvicorn's shutdown sets it False
        self.response_complete = False
        self.disconnected = False  # set by uvicorn when the client goes away
        self.message_event = asyncio.Event()  # uvicorn sets it on disconnection

    def __call__(self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> None:
        self.protocol.answer(self, status, headers, body)


class TrackingProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        from herald.tracking.fastpath import tracker

        self.tracker = tracker()
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        url = self.url
        parser = self.parser
        if url[:3] in (b"/o/", b"/c/") and (self.cycle is None or self.cycle.response_complete):
            method = parser.get_method()
            match = _TRACKED.fullmatch(url)
            if match and method in (b"GET", b"HEAD") and not parser.should_upgrade():
                keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
                self.cycle = _Answering(  # type: ignore[assignment]
                    self, match, head=method == b"HEAD", keep_alive=keep_alive
                )
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if type(self.cycle) is not _Answering:
            super().on_body(body)  # a tracking GET's body, if any, is ignored

    def on_message_complete(self) -> None:
        cycle: Any = self.cycle
        if type(cycle) is not _Answering:
            super().on_message_complete()
            return
        agent = ""
        forwarded = False
        for name, value in self.headers:
            if name == b"user-agent":
                agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = True
        ip = self._client_ip() if forwarded else self.client[0] if self.client else ""
        token, click_token, link = cycle.match.groups()
        if token is not None:
            self.tracker.open(token.decode(), agent, ip, cycle.head, cycle)
        else:
            self.tracker.click(click_token.decode(), int(link), agent, ip, cycle.head, cycle)

    def _client_ip(self) -> str:
        """The client's address; behind a trusted proxy, the one it forwarded (uvicorn's own
        middleware decides, as for every other request)."""
        client = self.client
        if self.config.proxy_headers:
            trusted = self.config.forwarded_allow_ips
            middleware = _proxy_headers(trusted if isinstance(trusted, str) else tuple(trusted))
            scope: dict[str, Any] = {
                "type": "http",
                "client": client,
                "headers": self.headers,
                "scheme": "http",
            }
            coroutine = middleware(scope, None, None)  # type: ignore[arg-type]
            with contextlib.suppress(StopIteration):
                coroutine.send(None)  # it awaits nothing: it sets scope["client"], then returns
            client = scope["client"]
        return client[0] if client else ""

    def answer(
        self, cycle: _Answering, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> None:
        cycle.response_complete = True
        if cycle.disconnected or self.transport.is_closing():
            return
        parts = [STATUS_LINE[status], _defaults(self.server_state.default_headers)]
        parts.append(_encoded(headers))
        if not cycle.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if not cycle.head:
            parts.append(body)
        self.transport.write(b"".join(parts))
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()  # the next pipelined request, or the keep-alive timer

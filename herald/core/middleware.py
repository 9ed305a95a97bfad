"""Gives every request an id (taken from ``X-Request-ID`` when a proxy set a sane one) and logs
one line per request carrying it, in place of the server's access log."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.db import DataError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from herald.core import logs

logger = logging.getLogger("herald.request")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        finally:
            logs.request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


# What a page of Herald may load: its own scripts only (no inline script, no eval), its own and
# inline styles (htmx adds one; messages shown in a sandboxed frame carry theirs), images from
# anywhere over HTTPS (a message's remote images, blocked until an agent asks), frames of its own
# (which may follow a message's links), forms posted to itself only, and no framing of Herald by
# another site.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self' https: http:",  # a link clicked in a message shown in a frame
        "frame-ancestors 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)


class ContentSecurityPolicyMiddleware:
    """Sets ``CONTENT_SECURITY_POLICY`` on every response that has none of its own (a page
    needing a different one sets it). One constant header: no library needed for that."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class OutOfRangeMiddleware:
    """Input the database cannot hold is the request's fault, not the server's: a NUL character
    in a query string is refused up front, and an id beyond 64 bits (``OverflowError`` on
    SQLite) or a value PostgreSQL refuses (``DataError``: a NUL in a text, a number out of
    range) answers 400 instead of 500. The API answers these with 422 itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in value for values in request.GET.lists() for value in values[1]
        ):
            return _bad_request(request, "NUL characters are not allowed in addresses.")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OverflowError | DataError):
            logger.warning(
                "out-of-range input refused", extra={"path": request.path, "error": str(exception)}
            )
            return _bad_request(
                request,
                "A value in this request is out of range (a number too large, or a NUL "
                "character in a text).",
            )
        return None


def _bad_request(request: HttpRequest, detail: str) -> HttpResponse:
    """400 in the form the caller reads: JSON ``{"detail": ...}`` for the API, text for pages."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=400)
    return HttpResponseBadRequest(detail + "\n")

"""``Idempotency-Key`` on the API's POSTs: a retried request has its effect once.

A POST under /api/ with an ``Idempotency-Key`` header (at most 255 characters) is recorded
before it runs, per token (the Authorization header, hashed) and key. The same key again gets
the first answer again, with ``Idempotent-Replayed: true``; while the first still runs, 409;
with another method, path or body, 422. A server error is not kept (the retry runs anew).
Keys are kept ``KEEP`` (24 hours): a retry later than that is a new request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from herald.api.models import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY = 255
KEEP = timedelta(hours=24)
MAX_KEPT_BODY = 1_000_000  # a larger answer is not kept: its retry runs anew


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY:
            return _error(422, f"{HEADER} must be 1 to {MAX_KEY} characters")
        caller = _sha256(request.headers.get("Authorization", "").encode())
        fingerprint = _sha256(request.method.encode(), request.path.encode(), request.body)
        IdempotentRequest.objects.filter(
            caller=caller, key=key, created_at__lt=timezone.now() - KEEP
        ).delete()
        try:
            with transaction.atomic():
                row = IdempotentRequest.objects.create(
                    caller=caller, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            return self._again(caller, key, fingerprint)
        response = self.get_response(request)
        body = getattr(response, "content", b"")
        if response.status_code >= 500 or len(body) > MAX_KEPT_BODY:
            row.delete()
            return response
        IdempotentRequest.objects.filter(pk=row.pk).update(
            status=response.status_code,
            content_type=response.get("Content-Type", "")[:100],
            body=body,
        )
        return response

    def _again(self, caller: str, key: str, fingerprint: str) -> HttpResponse:
        first = IdempotentRequest.objects.filter(caller=caller, key=key).first()
        if first is None:  # expired and deleted between the two statements
            return _error(409, "retry: the first request with this key has just expired")
        if first.fingerprint != fingerprint:
            return _error(422, f"this {HEADER} was used for another request (method, path or body)")
        if first.status is None:
            return _error(409, f"the first request with this {HEADER} is still running")
        response = HttpResponse(
            bytes(first.body), status=first.status, content_type=first.content_type or None
        )
        response["Idempotent-Replayed"] = "true"
        return response


def prune() -> bool:
    """Forgets the keys older than ``KEEP``; the worker calls it every hour."""
    IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return False

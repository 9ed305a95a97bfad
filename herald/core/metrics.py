"""Prometheus metrics of the web and the worker, exposed at ``/metrics``.

Later parts add their own counters here (messages sent/failed, queue depth) so that one registry
describes the whole process.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "herald_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("herald_http_request_seconds", "Time to answer an HTTP request", ["route"])
JOBS = Counter("herald_jobs_total", "Background jobs run by the worker", ["task", "outcome"])
JOB_SECONDS = Histogram("herald_job_seconds", "Time a background job took", ["task"])
WORKER_LOOPS = Counter(
    "herald_worker_loop_iterations_total", "Iterations of the worker's long-running loops", ["loop"]
)


def _route(request: HttpRequest) -> str:
    # The URL pattern's name, not the path (paths carry ids and tokens and would explode the
    # metric's cardinality), from the match Django already made for this request.
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics, for whom ``settings.METRICS_TOKEN`` / ``METRICS_PUBLIC`` allow: the figures
    name mailboxes, agents and campaigns, which are nobody else's business."""
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode()):
            return HttpResponse(
                "Send the metrics token: Authorization: Bearer <HERALD_METRICS_TOKEN>\n",
                status=401,
                content_type="text/plain",
            )
    elif not settings.METRICS_PUBLIC and not _from_this_machine(request):
        return HttpResponse(
            "/metrics answers this machine only: set HERALD_METRICS_TOKEN (or "
            "HERALD_METRICS_PUBLIC=1) to scrape it from elsewhere\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _from_this_machine(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False

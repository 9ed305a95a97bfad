"""Prometheus metrics of the web and the worker, exposed at ``/metrics``.

Later parts add their own counters here (messages sent/failed, queue depth) so that one registry
describes the whole process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)

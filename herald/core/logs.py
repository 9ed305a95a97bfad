"""Structured logs: one JSON object per line, tagged with the current request or job id."""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` / ``job_id`` to every record logged while one is set."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None:
            record.request_id = rid
        jid = job_id.get()
        if jid is not None:
            record.job_id = jid
        return True


@contextmanager
def job_context(name: str, ident: str | None = None) -> Iterator[str]:
    """Tags the logs of one background job (a task run, a loop iteration) with an id."""
    ident = ident or f"{name}:{uuid.uuid4().hex[:12]}"
    token = job_id.set(ident)
    try:
        yield ident
    finally:
        job_id.reset(token)

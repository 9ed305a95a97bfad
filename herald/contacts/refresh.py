"""Scheduled list refreshes, worker side: fetch the file, import it in replace mode, record how
it went.

Every worker's ``contacts-refresh`` loop (herald.contacts.apps) takes the refreshes that are due:
taking one is a conditional UPDATE moving its ``next_run_at`` to the next occurrence, so one
worker runs each occurrence, and a refresh that fails is tried again at the next one (not in a
loop). A run downloads the HTTPS address (the certificate checked, at most ``REFRESH_MAX_MB``,
connect and read timeouts) or copies the file under ``REFRESH_DIR``, then hands it to the
ordinary import (``do_create_import`` + ``do_start_import`` in replace mode): the import task
does the work with its checkpoints, and its report of rejected rows stays with the run. The run
is settled when its import finishes (the same loop looks). Any failure (the address answered
404, the file is not a contact list, the import failed) marks the run failed with the reason,
which the list's page shows and a ``list.refresh_failed`` webhook carries.

A refresh never empties a list by accident: a file that cannot be a contact list (an error page,
no address column) is refused before the import starts, so the members stay.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import tempfile
from pathlib import Path

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from herald.audit.actors import Actor
from herald.campaigns import windows
from herald.campaigns.actions import account_zone
from herald.contacts import actions
from herald.contacts.csvfile import FileRefused
from herald.contacts.models import (
    ImportJob,
    ImportMode,
    ImportStatus,
    ListRefresh,
    RefreshRun,
    RefreshStatus,
)

logger = logging.getLogger(__name__)

TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
CHUNK = 1 << 20
STALLED = dt.timedelta(hours=1)  # a download takes minutes at most (timeouts, size bound)
ACTOR = Actor.system("scheduled refresh")


class RefreshError(Exception):
    """The file could not be had: what the list's page shows."""


def next_time(refresh: ListRefresh, after: dt.datetime) -> dt.datetime:
    return windows.next_run(windows.recurrence_from_json(refresh.recurrence), after, account_zone())


def allowed_path(text: str) -> Path:
    """A server file a refresh may read: under ``REFRESH_DIR``, nowhere else (no ``..``, no link
    leading out)."""
    base = Path(settings.REFRESH_DIR).resolve()
    try:
        path = (base / text).resolve()
    except (ValueError, OSError) as exc:  # a NUL in the name, a name too long
        raise RefreshError(f"{text[:200]!r}: not a file name ({exc})") from None
    if not path.is_relative_to(base):
        raise RefreshError(f"{text}: only files under {base} can be read")
    return path


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.REFRESH_CA_FILE:
        context.load_verify_locations(cafile=settings.REFRESH_CA_FILE)
    return context


def download(url: str, target: Path) -> None:
    """Writes what the HTTPS address answers into ``target``; raises RefreshError saying why not."""
    limit = settings.REFRESH_MAX_MB * CHUNK
    http = urllib3.PoolManager(ssl_context=_tls(), timeout=TIMEOUT, retries=False)
    try:
        response = http.request("GET", url, preload_content=False, redirect=False)
    except urllib3.exceptions.HTTPError as exc:
        raise RefreshError(f"{url}: cannot be fetched ({exc})") from exc
    try:
        if response.status != 200:  # the one answer that carries the file
            said = f"{url} answered {response.status} {response.reason or ''}".strip()
            if 300 <= response.status < 400:
                location = response.headers.get("Location", "")[:500]
                said += f" to {location}: Herald follows no redirect, give that address"
            raise RefreshError(said)
        size = 0
        with target.open("wb") as out:
            for chunk in response.stream(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise RefreshError(
                        f"{url}: the file is larger than {settings.REFRESH_MAX_MB} MB"
                    )
                out.write(chunk)
    except urllib3.exceptions.HTTPError as exc:
        raise RefreshError(f"{url}: the download broke off ({exc})") from exc
    finally:
        response.release_conn()


def _fetch(refresh: ListRefresh) -> Path:
    """The file, stored where imports read theirs."""
    if refresh.url:
        with tempfile.TemporaryDirectory() as folder:
            name = refresh.url.rstrip("/").rpartition("/")[2] or "refresh.csv"
            target = Path(folder) / name[-100:]
            download(refresh.url, target)
            return actions.store_upload(target, target.name)
    path = allowed_path(refresh.path)
    if not path.is_file():
        raise RefreshError(f"{path}: no such file")
    return actions.store_upload(path, path.name)


def run(refresh: ListRefresh) -> RefreshRun:
    """Fetches the file and starts its import; the run is failed with the reason if either
    cannot be done."""
    row = RefreshRun.objects.create(
        contact_list_id=refresh.contact_list_id, source=refresh.source, status=RefreshStatus.RUNNING
    )
    stored: Path | None = None
    try:
        stored = _fetch(refresh)
        with transaction.atomic():
            job = actions.do_create_import(
                ACTOR,
                refresh.contact_list,
                stored,
                original_name=stored.name.partition("-")[2],
                mode=ImportMode.REPLACE,
            )
            _check_shrink(refresh, job)
            RefreshRun.objects.filter(pk=row.pk).update(job=job)
            actions.do_start_import(
                ACTOR, job, columns=refresh.columns or None, mode=ImportMode.REPLACE
            )
    except (RefreshError, FileRefused, ValidationError, OSError) as exc:
        if stored is not None:
            stored.unlink(missing_ok=True)
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        _settle(row, RefreshStatus.FAILED, reason)
        logger.warning(
            "list refresh failed", extra={"list": refresh.contact_list_id, "error": reason}
        )
    row.refresh_from_db()
    return row


SMALL_LIST = 20  # members: below this, any file may replace the list


def _check_shrink(refresh: ListRefresh, job: ImportJob) -> None:
    """Refuses a file that would remove more than the refresh allows (a broken export, a
    filtered view saved by mistake): the members stay, and the run says why."""
    members = refresh.contact_list.members.count()
    rows = job.rows_total  # the data rows, estimated from the line count
    if members < SMALL_LIST or refresh.max_removed_percent >= 100:
        return
    removed = max(0, members - rows) * 100 // members
    if removed > refresh.max_removed_percent:
        raise RefreshError(
            f"the file has about {rows} rows for a list of {members} members: replacing it "
            f"would remove about {removed} % of them, more than the {refresh.max_removed_percent}"
            " % this refresh allows. Check the export, or raise the limit and refresh now."
        )


def _settle(row: RefreshRun, status: str, error: str = "") -> None:
    row.status, row.error, row.finished_at = status, error[:5000], timezone.now()
    row.save(update_fields=["status", "error", "finished_at"])


def settle_imports(now: dt.datetime) -> None:
    """Runs whose import finished: done, or failed with the import's reason. A run that never
    got to its import (its worker was stopped while downloading) is failed after an hour."""
    RefreshRun.objects.filter(
        status=RefreshStatus.RUNNING, job__isnull=True, started_at__lt=now - STALLED
    ).update(
        status=RefreshStatus.FAILED,
        error="the worker stopped while fetching the file; the next occurrence tries again",
        finished_at=now,
    )
    running = RefreshRun.objects.filter(status=RefreshStatus.RUNNING, job__isnull=False)
    for row in running.select_related("job"):
        job = row.job
        assert job is not None  # noqa: S101 - filtered above
        if job.status == ImportStatus.DONE:
            _settle(row, RefreshStatus.DONE)
        elif job.status == ImportStatus.FAILED:
            _settle(row, RefreshStatus.FAILED, f"the import failed: {job.error}")


def take_due(now: dt.datetime) -> list[ListRefresh]:
    """The due refreshes this worker got, each moved to its next occurrence."""
    taken = []
    due = ListRefresh.objects.filter(active=True, next_run_at__lte=now).select_related(
        "contact_list"
    )
    for refresh in due[:10]:
        following = next_time(refresh, now)
        if ListRefresh.objects.filter(pk=refresh.pk, next_run_at=refresh.next_run_at).update(
            next_run_at=following
        ):
            taken.append(refresh)
    return taken


def step() -> bool:
    """The worker loop's step: settle finished runs, then run what is due."""
    now = timezone.now()
    settle_imports(now)
    for refresh in take_due(now):
        run(refresh)
    return False

"""Running an import: batches of rows to the database, each committed with the job's checkpoint.

One batch is one transaction holding the new contacts, addresses and memberships, the rejected
rows, and the job's offset, line and counts. A worker killed mid-file loses at most the batch in
flight, and whoever resumes starts after the last committed batch: no duplicate, no gap.

Rows reach the database in bulk (executemany on SQLite, COPY on PostgreSQL) with ids allocated
up front, since Django's bulk_create would cost more than the whole budget of a million rows.
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from herald.contacts import pipeline
from herald.contacts.models import (
    Address,
    Contact,
    ContactPerson,
    ImportJob,
    ImportMode,
    ImportRejection,
    ImportStatus,
    ListMember,
    RejectReason,
)
from herald.contacts.queries import ensure_field_index, select_in, suppressions_for
from herald.contacts.rows import (
    EXTERNAL_ID,
    ROW_EMAILS,
    ROW_FIELDS,
    ROW_KEYS,
    ROW_LENGTH,
    ROW_LINE,
    ROW_PERSON,
    ROW_START,
    ROW_VALUES,
    ContactRow,
    ParsedBatch,
    key_fields,
    row_contact,
    row_fields,
)
from herald.core.spreadsheet import SafeWriter
from herald.env import env_bool, env_int

logger = logging.getLogger(__name__)

BATCH_ROWS = 10_000  # rows per transaction; HERALD_IMPORT_BATCH_ROWS overrides it
SQLITE_CACHE_KB = 120_000  # within the 300 MB the import may use
Progress = Callable[[ImportJob], None]


class LostLease(RuntimeError):  # noqa: N818 # a state, not a failure
    """Another runner took the job over (this one was presumed dead): stop without writing."""


def lease_seconds() -> int:
    """How long a runner's claim on a job lasts without a committed batch (renewed by each)."""
    return env_int("HERALD_IMPORT_LEASE_SECONDS", 60, minimum=2)


@dataclass
class Batch:
    """What one batch writes, collected before the transaction."""

    new_contacts: list[tuple[Any, ...]] = field(default_factory=list)
    new_addresses: list[tuple[Any, ...]] = field(default_factory=list)
    new_members: list[int] = field(default_factory=list)  # contact ids
    touched_members: list[int] = field(default_factory=list)  # member ids, now of this job
    contact_updates: list[tuple[int, ContactRow]] = field(default_factory=list)
    removed_members: list[int] = field(default_factory=list)
    rejections: list[tuple[int, str, str, str]] = field(default_factory=list)
    persons: list[tuple[int, tuple[str, str, str]]] = field(default_factory=list)  # (contact, p)
    new_persons: list[tuple[int, str, str, str]] = field(default_factory=list)
    person_roles: list[tuple[int, str]] = field(default_factory=list)  # (person id, new role)
    imported: int = 0
    updated: int = 0
    done: set[int] = field(default_factory=set)  # contacts this batch puts in the list
    copies: list[tuple[str, tuple[str, ...], bytes]] | None = None  # PostgreSQL: COPY data

    def overlay(self) -> Overlay:
        """What this batch writes, for matching the next batch before this one commits."""
        return Overlay(
            by_ext={row[1]: row[0] for row in self.new_contacts if row[1]},
            by_key={a[3]: a[0] for a in self.new_addresses if a[5] == "valid"},
            done=self.done,
            persons={(p[0], p[1].lower(), p[3].lower()) for p in self.new_persons},
        )


@dataclass
class Overlay:
    by_ext: dict[str, int]
    by_key: dict[str, int]
    done: set[int]
    persons: set[tuple[int, str, str]]


def claim(job_id: int) -> str | None:
    """Takes the job for this process unless a live runner holds it; returns the runner token."""
    runner = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status in {ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.MAPPING}:
            return None
        if job.runner and job.lease_until and job.lease_until > now:
            return None
        ImportJob.objects.filter(pk=job_id).update(
            runner=runner,
            lease_until=now + timedelta(seconds=lease_seconds()),
            status=ImportStatus.RUNNING,
            started_at=job.started_at or now,
        )
    return runner


def run_import(job_id: int, progress: Progress | None = None) -> ImportJob | None:
    """Runs (or resumes) the job to its end; None if another live runner holds it."""
    runner = claim(job_id)
    if runner is None:
        return None
    job = ImportJob.objects.select_related("contact_list").get(pk=job_id)
    try:
        _run(job, runner, progress)
    except LostLease:
        logger.warning("import taken over by another runner", extra={"job": job_id})
        return None
    except Exception as exc:
        logger.exception("import failed", extra={"job": job_id})
        ImportJob.objects.filter(pk=job_id, runner=runner).update(
            status=ImportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    job.refresh_from_db()
    return job


def _run(job: ImportJob, runner: str, progress: Progress | None) -> None:
    writer = _Writer(job)
    # Before the rows: built once in bulk if the table is large, then kept up row by row.
    for name in key_fields(job.header, job.columns):
        ensure_field_index(name)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # A million rows add ~150 MB of index pages; SQLite's default 2 MB page cache would
            # make every index insert a read from disk once the indexes outgrow it.
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
    size = env_int("HERALD_IMPORT_BATCH_ROWS", BATCH_ROWS, minimum=1)
    batches = pipeline.batches(job, size, parallel=parallel_enabled())
    # Batches hold hundreds of thousands of small tuples and strings, none in a reference
    # cycle: the cyclic collector would walk them all again and again (a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        if writer.postgres and not connection.in_atomic_block and pipelined_enabled():
            _run_pipelined(job, runner, writer, batches, progress)
        else:
            for batch in batches:
                _commit(job, runner, writer, batch)
                if progress:
                    progress(job)
    finally:
        batches.close()
        writer.close()
        if collecting:
            gc.enable()
    _commit(job, runner, writer, None, last=True)
    if writer.postgres:
        # Fresh statistics: without them, right after a bulk load, PostgreSQL's planner takes
        # "ann%" among a million names for a rare prefix and reads every match, and a lookup of
        # 50 contacts' addresses for a scan of the whole table (100 ms instead of 1).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE contacts_contact, contacts_address, contacts_listmember")
    if progress:
        progress(job)


def pipelined_enabled() -> bool:
    """PostgreSQL: write each batch in a second thread while the next one is prepared."""
    return env_bool("HERALD_IMPORT_PIPELINE", True)


def _run_pipelined(
    job: ImportJob,
    runner: str,
    writer: _Writer,
    batches: Iterator[ParsedBatch],
    progress: Progress | None,
) -> None:
    """Batch k+1 is matched and built (this thread, its own connection, reads only) while
    batch k is copied and committed with its checkpoint (a writer thread, another connection):
    the server's COPY time and this process's Python time overlap instead of adding up.

    Batch k is not committed yet when batch k+1 is matched, so the writer's overlay (the new
    contacts, keys and members of batch k) answers what the database cannot see yet. Batches
    still commit one by one, in order, each with its checkpoint: resuming works as before.
    """

    def write(parsed: ParsedBatch, prepared: Batch) -> None:
        _commit(job, runner, writer, parsed, prepared=prepared)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as pool:
        pending: Future[None] | None = None
        try:
            for parsed in batches:
                prepared = writer.prepare(parsed)
                writer.encode(prepared)
                if pending is not None:
                    pending.result()  # batch k committed (or its error raised here)
                    if progress:
                        progress(job)
                writer.pending = prepared.overlay()
                pending = pool.submit(write, parsed, prepared)
            if pending is not None:
                pending.result()
        finally:
            writer.pending = None
            if pending is not None and not pending.done():
                pending.exception()  # let the writer finish before its connection goes
            # The writer thread's own connection (looked up in that thread, hence the lambda).
            pool.submit(lambda: connection.close()).result()  # noqa: PLW0108 # see above


def parallel_enabled() -> bool:
    """Parse in a second process (the default): the parsing and the writing each fill a core."""
    return env_bool("HERALD_IMPORT_PARALLEL", True)


def _commit(
    job: ImportJob,
    runner: str,
    writer: _Writer,
    parsed: ParsedBatch | None,
    *,
    last: bool = False,
    prepared: Batch | None = None,
) -> None:
    with transaction.atomic():
        if writer.postgres:
            # The checkpoint commits with the rows: a commit lost in a server crash loses its
            # checkpoint too and the batch is read again, so no commit needs to wait for disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        batch = prepared or (writer.prepare(parsed) if parsed else Batch())
        writer.write(batch)
        removed = len(batch.removed_members)
        if last:
            removed += writer.finish()
        if parsed is not None:
            job.offset = parsed.end_offset
            job.line = parsed.end_line
            job.rows_done += parsed.records
        job.imported += batch.imported
        job.updated += batch.updated
        job.removed += removed
        job.rejected += len(batch.rejections)
        values: dict[str, Any] = {
            "offset": job.offset,
            "line": job.line,
            "rows_done": job.rows_done,
            "imported": job.imported,
            "updated": job.updated,
            "removed": job.removed,
            "rejected": job.rejected,
            "lease_until": timezone.now() + timedelta(seconds=lease_seconds()),
        }
        if last:
            job.status = ImportStatus.DONE
            job.finished_at = timezone.now()
            job.report = str(report_path(job))
            values.update(
                status=job.status, finished_at=job.finished_at, runner="", report=job.report
            )
            _audit_done(job)
        if not ImportJob.objects.filter(pk=job.pk, runner=runner).update(**values):
            raise LostLease(job.pk)
    if last:
        write_report(job)


def _audit_done(job: ImportJob) -> None:
    from herald.audit.actions import record
    from herald.audit.actors import Actor

    user = job.created_by
    actor = Actor.for_user(user, via="import") if user else Actor.system("import")
    record(
        actor,
        "contact_list.import",
        job.contact_list,
        {
            "file": [None, job.original_name or Path(job.file).name],
            "mode": [None, job.mode],
            **{k: [None, v] for k, v in job.summary().items() if k != "report"},
        },
    )


def report_path(job: ImportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / f"import-{job.pk}-rejected.csv"


def write_report(job: ImportJob) -> Path:
    """Writes the rejected rows as CSV (line, reason, detail, raw) and returns its path."""
    path = report_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        write_rejections_csv(f, job)
    return path


def write_rejections_csv(f: Any, job: ImportJob) -> None:
    writer = SafeWriter(f)
    writer.writerow(["line", "reason", "detail", "raw"])
    rows = ImportRejection.objects.filter(job=job).order_by("line")
    for line, reason, detail, raw in rows.values_list("line", "reason", "detail", "raw").iterator(
        chunk_size=5000
    ):
        writer.writerow([line, RejectReason(reason).label, detail, raw])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: Sequence[tuple[Any, ...]], width: int) -> str:
    """Rows of str, int and None values in PostgreSQL's COPY text format.

    Nearly no value holds a tab, a line break or a backslash, so the batch is joined as is and
    the separators counted: only when the count shows such a value is each value escaped.
    """
    nulls = sum(row.count(None) for row in rows)
    text = "".join(
        [
            "\t".join([v if type(v) is str else "\\N" if v is None else str(v) for v in row]) + "\n"
            for row in rows
        ]
    )
    if (
        text.count("\t") == len(rows) * (width - 1)
        and text.count("\n") == len(rows)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    return "".join(
        [
            "\t".join(
                [
                    v.translate(_COPY_ESCAPES) if type(v) is str else "\\N" if v is None else str(v)
                    for v in row
                ]
            )
            + "\n"
            for row in rows
        ]
    )


def _text(raw: bytes, encoding: str) -> str:
    return raw.decode(encoding, "replace").rstrip("\r\n")


class _Writer:
    """Turns parsed batches into rows of the three tables, matching them against the database
    one batch at a time: one query per table per batch, then dictionaries (no per-row query,
    no ORM object per row)."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.job_id = job.pk
        self.list_id = job.contact_list_id
        self.postgres = connection.vendor == "postgresql"
        self.mode = job.mode
        self.mapped = set(job.columns.values())
        self.file: IO[bytes] | None = None  # opened for the raw lines of rows rejected here
        self.pending: Overlay | None = None  # the batch a writer thread has not committed yet
        self.sequence: str | None = None  # PostgreSQL: the sequence of contact ids

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def _raw(self, row: ContactRow, encoding: str) -> str:
        """The row as it is in the file: good rows carry their offsets, not their bytes."""
        if self.file is None:
            self.file = Path(self.job.file).open("rb")  # noqa: SIM115 # closed by close()
        self.file.seek(row[ROW_START])
        return _text(self.file.read(row[ROW_LENGTH]), encoding)

    # -- matching -----------------------------------------------------------------------------

    def _existing(
        self, rows: list[ContactRow]
    ) -> tuple[dict[str, int], dict[str, int], dict[int, tuple[int, int | None]]]:
        """Existing contacts by external id and by address key, and their memberships.

        Raw SQL: the ORM spends longer compiling an IN list of 5,000 values than the database
        spends answering it, and this runs once per batch of a million-row file.
        """
        ext_ids = [r[ROW_VALUES][EXTERNAL_ID] for r in rows if r[ROW_VALUES][EXTERNAL_ID]]
        keys = [k for r in rows for k in r[ROW_KEYS]]
        by_ext = dict(
            select_in("SELECT external_id, id FROM contacts_contact", "external_id", ext_ids)
        )
        by_key: dict[str, int] = {}
        for key, contact_id in select_in(
            "SELECT email_key, contact_id FROM contacts_address", "email_key", keys
        ):
            if key not in by_key or contact_id < by_key[key]:
                by_key[key] = contact_id  # the oldest contact with this address wins
        ids = list({*by_ext.values(), *by_key.values()})
        members: dict[int, tuple[int, int | None]] = {}
        members_sql = (
            "SELECT id, contact_id, import_job_id FROM contacts_listmember "  # noqa: S608 # an int
            f"WHERE contact_list_id = {int(self.list_id)} AND"
        )
        for member_id, contact_id, job_id in select_in(members_sql, "contact_id", ids):
            members[contact_id] = (member_id, job_id)
        return by_ext, by_key, members

    def _suppressed(self, rows: list[ContactRow]) -> dict[str, Any]:
        if self.mode == ImportMode.REMOVE:
            return {}
        with connection.cursor() as cursor:
            # Most accounts start with an empty list: then no address needs looking up.
            cursor.execute("SELECT 1 FROM contacts_suppression LIMIT 1")
            if cursor.fetchone() is None:
                return {}
        return suppressions_for({k for row in rows for k in row[ROW_KEYS]})

    def prepare(self, parsed: ParsedBatch) -> Batch:  # noqa: PLR0912, PLR0915 # one pass per row
        batch = Batch()
        encoding = parsed.encoding
        batch.rejections.extend(
            (line, _text(raw, encoding), reason, detail[:500])
            for line, raw, reason, detail in parsed.rejected
        )
        rows = parsed.rows
        if not rows:
            return batch
        by_ext, by_key, members = self._existing(rows)
        pending = self.pending
        if pending is not None:
            # The batch being written elsewhere: the database wins where both know a key.
            by_ext = {**pending.by_ext, **by_ext}
            by_key = {**pending.by_key, **by_key}
        suppressed = self._suppressed(rows)
        ids = self._allocate_ids(len(rows))
        next_id = 0
        now = self._now()
        job_id, mode = self.job_id, self.mode
        remove, updating = (
            mode == ImportMode.REMOVE,
            mode in {ImportMode.UPDATE, ImportMode.REPLACE},
        )
        new_contacts, new_addresses = batch.new_contacts, batch.new_addresses
        new_members, touched, rejections = (
            batch.new_members,
            batch.touched_members,
            batch.rejections,
        )
        done_here = batch.done  # contacts this batch already put in the list
        prior: set[int] = pending.done if pending is not None else set()
        for row in rows:
            keys = row[ROW_KEYS]
            values = row[ROW_VALUES]
            external_id = values[EXTERNAL_ID]
            contact_id: int | None = None
            if external_id:
                contact_id = by_ext.get(external_id)
            else:
                for k in keys:
                    contact_id = by_key.get(k)
                    if contact_id is not None:
                        break
            member = members.get(contact_id) if contact_id is not None else None
            if remove:
                if member and member[0] not in batch.removed_members:
                    batch.removed_members.append(member[0])
                continue
            person = row[ROW_PERSON]
            if contact_id in done_here or contact_id in prior or (member and member[1] == job_id):
                if person is not None and contact_id is not None:
                    # Another person of a company already in: the row adds the person.
                    batch.persons.append((contact_id, person))
                    batch.updated += 1
                    continue
                rejections.append(
                    (
                        row[ROW_LINE],
                        self._raw(row, encoding),
                        RejectReason.DUPLICATE,
                        keys[0] if keys else "",
                    )
                )
                continue
            if suppressed and all(k in suppressed for k in keys):
                entry = suppressed[keys[0]]
                rejections.append(
                    (
                        row[ROW_LINE],
                        self._raw(row, encoding),
                        RejectReason.SUPPRESSED,
                        f"{keys[0]}: {entry.get_reason_display()} ({entry})",
                    )
                )
                continue
            if contact_id is None:
                contact_id = ids[next_id]
                next_id += 1
                new_contacts.append(
                    (
                        contact_id,
                        external_id or None,
                        values[1],
                        values[2],
                        values[3],
                        values[4],
                        values[5],
                        row[ROW_FIELDS],
                        now,
                        now,
                    )
                )
                for position, email, label, error in row[ROW_EMAILS]:
                    new_addresses.append(
                        (
                            contact_id,
                            position,
                            email,
                            email.lower(),
                            label,
                            "valid" if error is None else "invalid",
                            "" if error is None else error[:300],
                        )
                    )
                if external_id:
                    by_ext[external_id] = contact_id
                for k in keys:
                    by_key.setdefault(k, contact_id)
            elif updating:
                batch.contact_updates.append((contact_id, row))
            if person is not None:
                batch.persons.append((contact_id, person))
            done_here.add(contact_id)
            if member:
                touched.append(member[0])
                batch.updated += 1
            else:
                new_members.append(contact_id)
                batch.imported += 1
        if batch.persons:
            self._match_persons(batch)
        return batch

    def _match_persons(self, batch: Batch) -> None:
        """A person already under the contact (same name and address) gets the file's role
        instead of a second entry: importing the same file twice adds nobody."""
        ids = list({contact_id for contact_id, _person in batch.persons})
        existing: dict[tuple[int, str, str], tuple[int | None, str]] = {
            (contact_id, name.lower(), email.lower()): (person_id, role)
            for person_id, contact_id, name, role, email in select_in(
                "SELECT id, contact_id, name, role, email FROM contacts_contactperson",
                "contact_id",
                ids,
            )
        }
        if self.pending is not None:
            existing.update(dict.fromkeys(self.pending.persons, (None, "")))
        pending: dict[tuple[int, str, str], int] = {}  # new in this batch: index in new_persons
        for contact_id, (name, role, email) in batch.persons:
            key = (contact_id, name.lower(), email.lower())
            found = existing.get(key)
            if key in pending:
                if role:  # the file's last word on the role
                    batch.new_persons[pending[key]] = (contact_id, name, role, email)
            elif found is None:
                pending[key] = len(batch.new_persons)
                batch.new_persons.append((contact_id, name, role, email))
            elif role and role != found[1] and found[0] is not None:
                batch.person_roles.append((found[0], role))
                existing[key] = (found[0], role)

    def _allocate_ids(self, n: int) -> Sequence[int]:
        with connection.cursor() as cursor:
            if self.postgres:
                if self.sequence is None:
                    # Looked up once: pg_get_serial_sequence() in the query below would be
                    # evaluated per value, a catalog lookup each (40 ms per batch instead of 6).
                    cursor.execute("SELECT pg_get_serial_sequence('contacts_contact', 'id')")
                    self.sequence = cursor.fetchone()[0]
                # n values of the sequence; nearly always one run, then two numbers say it.
                cursor.execute(
                    "SELECT min(v), max(v), count(*), "
                    "CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL ELSE array_agg(v) END "
                    "FROM (SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) AS ids",
                    [self.sequence, n],
                )
                low, high, _count, scattered = cursor.fetchone()
                return range(low, high + 1) if scattered is None else sorted(scattered)
            # SQLite: the transaction holds the write lock (IMMEDIATE), so MAX(id) is ours.
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM contacts_contact")
            top = cursor.fetchone()[0]
        return range(top + 1, top + 1 + n)

    # -- writing ------------------------------------------------------------------------------

    def _now(self) -> str:
        """The time as the database reads it in text, once per batch rather than per row."""
        now = timezone.now()
        return (
            now.isoformat() if self.postgres else str(connection.ops.adapt_datetimefield_value(now))
        )

    def _tables(self, batch: Batch) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        """The batch's new rows, table by table, in the order they are written."""
        now = self._now()
        list_id, job_id = self.list_id, self.job_id
        # In key order, the email_key index is filled page after page instead of at random.
        batch.new_addresses.sort(key=itemgetter(3))
        return [
            (
                "contacts_contact",
                (
                    "id",
                    "external_id",
                    "first_name",
                    "last_name",
                    "company",
                    "language",
                    "timezone",
                    "fields",
                    "created_at",
                    "updated_at",
                ),
                batch.new_contacts,
            ),
            (
                "contacts_address",
                ("contact_id", "position", "email", "email_key", "label", "state", "error"),
                batch.new_addresses,
            ),
            (
                "contacts_listmember",
                ("contact_list_id", "contact_id", "status", "added_at", "import_job_id"),
                [(list_id, cid, "", now, job_id) for cid in batch.new_members],
            ),
            (
                "contacts_importrejection",
                ("job_id", "line", "raw", "reason", "detail"),
                [(job_id, *r) for r in batch.rejections],
            ),
            ("contacts_contactperson", ("contact_id", "name", "role", "email"), batch.new_persons),
        ]

    def encode(self, batch: Batch) -> None:
        """PostgreSQL: builds the batch's COPY data now, in the thread that prepared it, so the
        writer thread only sends it (building it there held the GIL while the server waited)."""
        batch.copies = [
            (table, columns, copy_text(rows, len(columns)).encode())
            for table, columns, rows in self._tables(batch)
            if rows
        ]

    def write(self, batch: Batch) -> None:
        if batch.copies is not None:
            for table, columns, data in batch.copies:
                self._copy(table, columns, data)
        else:
            for table, columns, rows in self._tables(batch):
                self._bulk(table, columns, rows)
        for person_id, role in batch.person_roles:
            ContactPerson.objects.filter(pk=person_id).update(role=role)
        for start in range(0, len(batch.touched_members), 5000):
            ListMember.objects.filter(pk__in=batch.touched_members[start : start + 5000]).update(
                import_job=self.job
            )
        for start in range(0, len(batch.removed_members), 5000):
            ListMember.objects.filter(pk__in=batch.removed_members[start : start + 5000]).delete()
        if batch.contact_updates:
            self._update_contacts(batch.contact_updates, timezone.now())

    def _copy(self, table: str, columns: Sequence[str], data: bytes) -> None:
        # COPY is the fastest way in: one round trip per batch, no per-row parsing.
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.write(data)

    def _bulk(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:
            # The text is built here: psycopg's write_row spends ~4 µs per row on it.
            self._copy(table, columns, copy_text(rows, len(columns)).encode())
            return
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608 # fixed names

    def _update_contacts(self, updates: list[tuple[int, ContactRow]], now: Any) -> None:
        contacts = Contact.objects.in_bulk([cid for cid, _row in updates])
        changed = []
        for contact_id, row in updates:
            contact = contacts[contact_id]
            for name, value in row_contact(row, self.mapped).items():
                if value or name != "external_id":
                    setattr(contact, name, value or (None if name == "external_id" else ""))
            contact.fields = {**contact.fields, **row_fields(row)}
            contact.updated_at = now
            changed.append(contact)
        Contact.objects.bulk_update(
            changed,
            [
                "external_id",
                "first_name",
                "last_name",
                "company",
                "language",
                "timezone",
                "fields",
                "updated_at",
            ],
            batch_size=1000,
        )
        existing = {
            (a.contact_id, a.position): a
            for a in Address.objects.filter(contact_id__in=[cid for cid, _r in updates])
        }
        new, renewed = [], []
        for contact_id, row in updates:
            for position, email, label, error in row[ROW_EMAILS]:
                state = "valid" if error is None else "invalid"
                address = existing.get((contact_id, position))
                if address is None:
                    new.append(
                        Address(
                            contact_id=contact_id,
                            position=position,
                            email=email,
                            email_key=email.lower(),
                            label=label,
                            state=state,
                            error=(error or "")[:300],
                        )
                    )
                else:
                    address.email, address.email_key, address.state = email, email.lower(), state
                    address.error = (error or "")[:300]
                    address.label = label or address.label
                    renewed.append(address)
        Address.objects.bulk_create(new, batch_size=1000)
        Address.objects.bulk_update(
            renewed, ["email", "email_key", "label", "state", "error"], batch_size=1000
        )

    def finish(self) -> int:
        """Replace mode: members the file no longer lists leave the list. Returns their count."""
        if self.mode != ImportMode.REPLACE:
            return 0
        stale = ListMember.objects.filter(contact_list_id=self.list_id).exclude(
            import_job_id=self.job.pk
        )
        return stale.delete()[1].get("contacts.ListMember", 0)

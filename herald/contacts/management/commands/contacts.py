"""`herald contacts import FILE --list NAME [--mode add|update|replace|remove] [--json]`.

Runs the same import as the web page and the API, in the foreground, with a progress bar on
stderr. With ``--json`` the last line of stdout is DESIGN.md's summary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from herald.audit.actors import Actor
from herald.contacts import actions, importing
from herald.contacts.csvfile import ENCODINGS, FileRefused
from herald.contacts.models import ContactList, ImportJob, ImportMapping, ImportMode
from herald.core.management.base import HeraldCommand


class Command(HeraldCommand):
    help = "Contact lists from the shell: `herald contacts import FILE.csv --list NAME`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a CSV file into a list (created if new)")
        imp.add_argument("file", type=Path)
        imp.add_argument("--list", dest="list_name", required=True, help="the list's name")
        imp.add_argument("--mode", choices=ImportMode.values, default=ImportMode.ADD)
        imp.add_argument("--encoding", choices=ENCODINGS, default="", help="default: detected")
        imp.add_argument("--mapping", default="", help="a saved column mapping, by name")
        imp.add_argument("--json", action="store_true", help="end with a JSON summary line")
        imp.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "import":
            self.import_file(**options)

    def import_file(
        self,
        *,
        file: Path,
        list_name: str,
        mode: str,
        encoding: str,
        mapping: str,
        json: bool,
        quiet: bool,
        **_: Any,
    ) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        actor = Actor.system("command line")
        contact_list = ContactList.objects.filter(name=list_name).first()
        if contact_list is None:
            contact_list = actions.do_create_list(actor, name=list_name)
        columns = None
        if mapping:
            saved = ImportMapping.objects.filter(name=mapping).first()
            if saved is None:
                raise CommandError(f"no saved mapping named {mapping!r}")
            columns = saved.columns
        try:
            path = actions.store_upload(file, file.name)
            job = actions.do_create_import(
                actor, contact_list, path, original_name=file.name, encoding=encoding, mode=mode
            )
            job = actions.do_start_import(actor, job, columns=columns, enqueue=False)
        except FileRefused as exc:
            raise CommandError(f"{file}: {exc}") from None
        except ValidationError as exc:
            raise CommandError(f"{file}: {' '.join(exc.messages)}") from None
        # On stderr even with --json: stdout holds only the summary line.
        bar = _ProgressBar(enabled=not quiet)
        done = importing.run_import(job.pk, progress=bar.update)
        bar.close(done)
        if done is None:
            raise CommandError("another process is running this import")
        summary = done.summary()
        self.stderr.write(
            f"{done.imported} imported, {done.updated} updated, {done.removed} removed, "
            f"{done.rejected} rejected" + (f" (see {done.report})" if done.rejected else "")
        )
        if json:
            self.stdout.write(_json(summary))


def _json(summary: dict[str, Any]) -> str:
    return json.dumps(summary)


class _ProgressBar:
    """rows done of total, rows/s and ETA on one stderr line, redrawn at most 5 times a second."""

    WIDTH = 30

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.drawn = 0.0

    def update(self, job: ImportJob, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.drawn < 0.2 and not force):
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-6)
        rate = job.rows_done / elapsed
        percent = job.percent
        left = (100 - percent) / percent * elapsed if percent else 0
        filled = self.WIDTH * percent // 100
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d}%  "
            f"{job.rows_done:,} of ~{job.rows_total:,} rows  {rate:,.0f} rows/s  ETA {left:.0f} s "
        )
        sys.stderr.flush()

    def close(self, job: ImportJob | None) -> None:
        """Draws the final state (the last update may have been skipped) and ends the line."""
        if self.enabled:
            if job is not None:
                self.update(job, force=True)
            sys.stderr.write("\n")

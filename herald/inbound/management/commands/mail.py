"""`herald mail classify FILE.eml [FILE.eml ...]`: what the inbound pipeline decides, one JSON
line per file (the contract of DESIGN.md). Needs no database.

A file that cannot be read or is not an email message gives ``"kind": "error"`` with an
``"error"`` message; the other files go on, and the exit status is 1 when any file failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from herald.core.management.base import HeraldCommand
from herald.inbound.classify import UnreadableMessage, classify


def classify_file(path: str) -> dict[str, Any]:
    """The JSON object of one file: its classification, or an error saying what is wrong."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return {"file": path, "kind": "error", "error": f"cannot read the file: {exc.strerror}"}
    try:
        return classify(raw).as_json(path)
    except UnreadableMessage as exc:
        return {"file": path, "kind": "error", "error": f"not an email message: {exc}"}
    except Exception as exc:  # one bad file never stops the others (the documented contract)
        return {"file": path, "kind": "error", "error": f"cannot classify it: {exc!r}"[:500]}


class Command(HeraldCommand):
    help = "Inbound mail tools: `herald mail classify FILE.eml ...` prints one JSON line per file."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        classify_parser = sub.add_parser(
            "classify",
            help="classify raw messages (bounce, complaint, autoreply, optout, reply, new)",
        )
        classify_parser.add_argument("files", nargs="+", metavar="FILE.eml")

    def handle(self, *args: Any, action: str, files: list[str], **options: Any) -> None:
        if action != "classify":  # pragma: no cover - argparse rejects other actions
            raise CommandError(f"unknown action {action!r}: use `herald mail classify FILE.eml`")
        failed = 0
        for path in files:
            result = classify_file(path)
            failed += result["kind"] == "error"
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        self.stdout.flush()
        if failed:
            sys.exit(1)

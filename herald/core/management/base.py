"""The base of Herald's own commands: a ``CommandError`` prints as ``herald: <what to fix>``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class HeraldCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if options.get("traceback"):
                raise
            self.stderr.write(f"herald: {exc}")
            sys.exit(exc.returncode)

"""`herald bench NAME [options]`: runs bench/NAME.py from this checkout and prints one JSON line.

Each benchmark module defines ``run(argv: list[str]) -> dict`` returning its figures with units in
the key names (``msgs_per_s``, ``p99_ms``, ``peak_rss_mb``); this command adds ``"bench": NAME``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from herald.core.management.base import HeraldCommand

BENCH_DIR = Path(__file__).resolve().parents[4] / "bench"


def available() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


class Command(HeraldCommand):
    help = "Run one benchmark of bench/ and print its figures as one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the benchmark: " + ", ".join(available()))
        parser.add_argument("options", nargs="*", help="the benchmark's own options")

    def run_from_argv(self, argv: list[str]) -> None:
        # Everything after NAME belongs to the benchmark, including its --flags.
        if len(argv) >= 3 and not argv[2].startswith("-"):
            self.bench(argv[2], argv[3:])
            return
        super().run_from_argv(argv)

    def handle(self, *args: Any, name: str, options: list[str], **kw: Any) -> None:
        self.bench(name, options)

    def bench(self, name: str, argv: list[str]) -> None:
        path = BENCH_DIR / f"{name}.py"
        if not path.is_file():
            raise CommandError(
                f"no benchmark named {name!r}: choose one of {', '.join(available()) or 'none'}"
            )
        # Benchmarks import their shared helpers as `from _common import ...`; appended, so
        # that bench/dkim.py does not hide the installed dkim (dkimpy) from `import dkim`.
        if str(BENCH_DIR) not in sys.path:
            sys.path.append(str(BENCH_DIR))
        spec = importlib.util.spec_from_file_location(f"herald_bench_{name}", path)
        if spec is None or spec.loader is None:
            raise CommandError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
        figures = module.run(argv)
        sys.stdout.write(json.dumps({"bench": name, **figures}) + "\n")
        sys.stdout.flush()

"""`herald bench import [--rows N] [--database sqlite|postgres]`: a CSV of N rows (address, first
and last name, 5 custom columns) imported end to end by `herald contacts import --json` in a
child process on a fresh database; prints rows/s and the child's peak memory."""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import fresh_database, herald, peak_rss_mb

FIRST = ["Ann", "Bob", "Chloé", "Dario", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas"]
LAST = ["Martin", "Rossi", "Müller", "Dubois", "Bianchi", "Haddad", "Nowak", "García"]
ASCII_FOLD = str.maketrans("éèü", "eeu")
PLANS = ["free", "silver", "gold"]
CITIES = ["Paris", "Milano", "Lyon", "Torino", "Casablanca", "Genève"]


def write_file(path: Path, rows: int, seed: int = 7) -> None:
    """The benchmark's file: unique addresses over 2,000 domains, a few invalid ones."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Email", "First name", "Last name", "Plan", "City", "Score", "Since", "Code"])
        for i in range(rows):
            first = rng.choice(FIRST)
            # Local parts are ASCII, as in nearly every real list (accents stay in the names).
            local = first.lower().translate(ASCII_FOLD)
            email = f"{local}.{i}@domain{i % 2000}.example.com"
            if i % 1000 == 999:
                email = f"broken-{i}@@nowhere"
            out.writerow(
                [
                    email,
                    first,
                    rng.choice(LAST),
                    rng.choice(PLANS),
                    rng.choice(CITIES),
                    str(rng.randint(0, 100)),
                    f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"C{i:08d}",
                ]
            )


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench import")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-import-"))
    path = workdir / "contacts.csv"
    write_file(path, args.rows)
    with fresh_database(args.database) as env:
        # An installed Herald runs from compiled bytecode; `migrate` compiles it here, so that
        # the import does not spend ~2 s compiling modules when PYTHONDONTWRITEBYTECODE is set.
        env["PYTHONDONTWRITEBYTECODE"] = ""
        herald(["migrate", "-v0"], env)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        try:
            done = herald(["contacts", "import", str(path), "--list", "bench", "--json"], env)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"the import failed:\n{exc.stderr[-3000:]}") from None
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    rss = peak_rss_mb(resource.RUSAGE_CHILDREN)
    # CPU of the import's processes (the command and its parsing child), not of the database
    # server: on a shared machine, wall time depends on the neighbours, CPU time much less.
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    size_mb = round(path.stat().st_size / 1e6, 1)
    path.unlink()
    return {
        "rows": args.rows,
        "database": args.database,
        "seconds": round(seconds, 2),
        "rows_per_s": round(args.rows / seconds),
        "peak_rss_mb": rss,
        "cpu_s": round(cpu, 1),
        "peak_rss_mb_includes_migrate": before.ru_maxrss / 1024 >= rss,
        "imported": summary["imported"],
        "rejected": summary["rejected"],
        "file_mb": size_mb,
    }

"""`herald contacts import FILE --list NAME --json` as a user runs it: a real process on a fresh
data directory, DESIGN.md's summary line on stdout, the progress bar on stderr, the report."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import DATA


def _herald(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HERALD_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'herald.sqlite3'}",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_command_prints_the_json_summary_draws_progress_and_writes_the_report(
    tmp_path,
):
    data_dir = tmp_path / "var"
    assert _herald(["migrate", "-v0"], data_dir).returncode == 0
    done = _herald(
        ["contacts", "import", str(DATA / "rejects.csv"), "--list", "Spring", "--json"], data_dir
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary) == {"imported", "updated", "removed", "rejected", "report"}
    # rejects.csv: 4 good rows; the invalid, missing, duplicate and too long rows rejected
    # (nothing is suppressed on a fresh database).
    assert (summary["imported"], summary["updated"], summary["removed"]) == (6, 0, 0)
    assert summary["rejected"] == 4
    report = Path(summary["report"])
    assert report.is_file()
    assert report.is_relative_to(data_dir)
    with report.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "detail", "raw"]
    assert {(int(r[0]), r[1]) for r in rows[1:]} == {
        (3, "invalid address"),
        (4, "missing required field"),
        (5, "duplicate in the file"),
        (7, "too long"),
    }
    assert "not-an-address,Bad,Address,1,1990-01-01" in {r[3] for r in rows[1:]}
    # The progress bar, redrawn in place on stderr, ends at 100 %.
    bar = done.stderr.split("\r")[-1]
    assert "[##############################] 100%" in bar
    assert "of ~10 rows" in bar


def test_a_file_without_an_address_column_is_refused_with_a_message_and_no_summary(tmp_path):
    data_dir = tmp_path / "var"
    assert _herald(["migrate", "-v0"], data_dir).returncode == 0
    done = _herald(
        ["contacts", "import", str(DATA / "no-address.csv"), "--list", "L", "--json"], data_dir
    )
    assert done.returncode != 0
    assert "address column" in done.stderr
    assert "{" not in done.stdout

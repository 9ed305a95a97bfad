"""`herald mail classify`: one JSON line per file, in the DESIGN.md contract, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "inbound"
REPO = Path(__file__).resolve().parents[2]
CONTRACT = {"file", "kind", "bounce", "reply_text", "in_reply_to"}


def herald_mail(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # A database that does not answer: `mail` must not need one.
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nowhere",
        "HERALD_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", "mail", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_each_file_gives_one_json_line_and_a_bad_file_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "empty.eml"
    broken.write_bytes(b"")
    files = [
        DATA / "hard_bounce_dsn.eml",
        tmp_path / "missing.eml",
        broken,
        DATA / "new_message.eml",
    ]
    done = herald_mail("classify", *map(str, files), tmp_path=tmp_path)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files]
    bounce, missing, empty, new = lines
    assert bounce.keys() >= CONTRACT
    assert bounce["kind"] == "bounce"
    assert set(bounce["bounce"]) == {"type", "recipients", "status", "diagnostic"}
    assert bounce["bounce"]["type"] == "hard"
    assert bounce["bounce"]["status"] == "5.1.1"
    assert missing["kind"] == "error"
    assert "cannot read" in missing["error"]
    assert empty["kind"] == "error"
    assert "empty" in empty["error"]
    assert new == {**new, "kind": "new", "bounce": None, "in_reply_to": None}
    assert new["reply_text"] == "Hello, when will my parcel arrive?"
    assert done.returncode == 1  # some files failed


def test_a_reply_line_carries_its_text_and_in_reply_to(tmp_path: Path) -> None:
    done = herald_mail("classify", str(DATA / "reply_html_gmail.eml"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert line["kind"] == "reply"
    assert line["bounce"] is None
    assert line["reply_text"] == "What are your opening hours?\nThanks"
    assert line["in_reply_to"] == "<delivery-80@example.org>"

"""`herald bench send [--recipients N] [--workers W] [--dkim none|ed25519|rsa]
[--database sqlite|postgres] [--connections C]`: a whole campaign sent to Postfix's smtp-sink.

On a fresh database: N contacts imported into a list (``herald contacts import``), a 15 KB HTML
template with 10 variables and 5 links (``bench/render.py``), a mailbox pointing at
``smtp-sink`` on 127.0.0.1 (C connections, no pacing, a DKIM key of the chosen kind) and a
campaign on the list, started in a child process (``launch_s``: the start as a manager waits
for it, pre-flight and the launch's one-statement insert included). Then W real
``herald worker`` processes send it until it completes.

``msgs_per_s`` counts from the first claim (a delivery turning ``sending``, watched from here)
to the last delivery recorded sent; ``msgs_per_s_with_launch`` adds the launch to that time
(the workers' start-up is in neither). ``peak_rss_mb`` is the largest worker's peak resident
memory; ``cpu_s`` the workers' CPU time together, ``sink_cpu_s`` smtp-sink's. Every recipient
must end sent, or the figures are void.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._campaign import write_contacts
from bench._common import HERALD, REPO, fresh_database, herald


def _sink_module() -> ModuleType:
    spec = spec_from_file_location("herald_bench_sink", Path(__file__).with_name("_sink.py"))
    if spec is None or spec.loader is None:
        raise SystemExit("bench/_sink.py cannot be loaded")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def proc_figures(pid: int) -> tuple[float, float]:
    """(peak RSS in MB, CPU seconds) of a running process, from /proc."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return rss, cpu


class Database:
    """A plain connection to the benchmark's database, to watch the campaign from outside."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgres")
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(url, autocommit=True)
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=20000")

    def one(self, sql: str, *params: object) -> Any:
        if self.postgres:
            sql = sql.replace("?", "%s")
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def moment(self, value: Any) -> float:
        if isinstance(value, str):  # SQLite keeps UTC text
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()

    def close(self) -> None:
        self.conn.close()


def send(
    env: dict[str, str], campaign: int, recipients: int, workers: int, timeout: float
) -> dict[str, Any]:
    db = Database(env["DATABASE_URL"])
    procs = [
        subprocess.Popen(
            [*HERALD, "worker"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    figures: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + timeout
        first_claim = None
        while first_claim is None:
            if db.one("SELECT 1 FROM campaigns_delivery WHERE state = 'sending' LIMIT 1"):
                first_claim = time.time()
            elif db.one("SELECT 1 FROM campaigns_delivery WHERE state = 'sent' LIMIT 1"):
                raise SystemExit("the first claim went unseen: the figures would be void")
            _check(procs, deadline)
            time.sleep(0.005)
        while db.one("SELECT status FROM campaigns_campaign WHERE id = ?", campaign) != (
            "completed"
        ):
            _check(procs, deadline)
            time.sleep(0.1)
        figures = [proc_figures(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    sent = db.one(
        "SELECT COUNT(*) FROM campaigns_delivery WHERE campaign_id = ? AND state = 'sent'",
        campaign,
    )
    last = db.moment(
        db.one("SELECT MAX(sent_at) FROM campaigns_delivery WHERE campaign_id = ?", campaign)
    )
    db.close()
    if sent != recipients:
        raise SystemExit(f"only {sent} of {recipients} deliveries were sent")
    return {
        "seconds": last - first_claim,
        "peak_rss_mb": round(max(rss for rss, _ in figures), 1),
        "rss_mb_per_worker": [round(rss, 1) for rss, _ in figures],
        "cpu_s": round(sum(cpu for _, cpu in figures), 1),
    }


def _check(procs: list[subprocess.Popen], deadline: float) -> None:
    for p in procs:
        if p.poll() is not None:
            err = p.stderr.read() if p.stderr else ""
            raise SystemExit(f"a worker exited with {p.returncode}:\n{err[-3000:]}")
    if time.monotonic() > deadline:
        raise SystemExit("the campaign did not complete in time")


def prepare(
    env: dict[str, str], recipients: int, port: int, connections: int, dkim: str
) -> dict[str, Any]:
    """Migrates, imports the contacts and starts the campaign; returns the setup's figures."""
    # An installed Herald runs from compiled bytecode; `migrate` compiles it here.
    env["PYTHONDONTWRITEBYTECODE"] = ""
    herald(["migrate", "-v0"], env)
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-send-"))
    path = workdir / "contacts.csv"
    write_contacts(path, recipients)
    started = time.perf_counter()
    herald(["contacts", "import", str(path), "--list", "bench", "--json"], env)
    import_s = time.perf_counter() - started
    path.unlink()
    workdir.rmdir()
    command = [sys.executable, "-m", "bench._campaign", "setup", "--list", "bench"]
    command += ["--port", str(port), "--connections", str(connections), "--dkim", dkim]
    try:
        done = subprocess.run(
            command,
            env={**os.environ, **env},
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"the campaign setup failed:\n{exc.stderr[-3000:]}") from None
    setup = json.loads(done.stdout.strip().splitlines()[-1])
    setup["import_s"] = round(import_s, 1)
    if setup["queued"] != recipients:
        raise SystemExit(f"the launch queued {setup['queued']} deliveries, not {recipients}")
    return setup


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench send")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dkim", choices=["none", "ed25519", "rsa"], default="none")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--connections", type=int, default=8, help="the mailbox's SMTP connections")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before giving up")
    args = parser.parse_args(argv)
    sink = _sink_module()
    sink.ensure_smtp_sink()
    with sink.smtp_sink() as (port, sink_process), fresh_database(args.database) as env:
        setup = prepare(env, args.recipients, port, args.connections, args.dkim)
        sent = send(env, setup["campaign"], args.recipients, args.workers, args.timeout)
        _rss, sink_cpu = proc_figures(sink_process.pid)
    seconds = sent["seconds"]
    return {
        "recipients": args.recipients,
        "workers": args.workers,
        "database": args.database,
        "dkim": args.dkim,
        "msgs_per_s": round(args.recipients / seconds, 1),
        "msgs_per_s_with_launch": round(args.recipients / (seconds + setup["launch_s"]), 1),
        "send_s": round(seconds, 2),
        "launch_s": setup["launch_s"],
        "insert_s": setup["insert_s"],
        "peak_rss_mb": sent["peak_rss_mb"],
        "rss_mb_per_worker": sent["rss_mb_per_worker"],
        "cpu_s": sent["cpu_s"],
        "sink_cpu_s": round(sink_cpu, 1),
        "connections": args.connections,
        "import_s": setup["import_s"],
    }

"""`herald bench tracking [--seconds S] [--connections C] [--deliveries N] [--database D]`:
the open pixel and the click redirect under load, side by side with nginx serving a static GIF.

A fresh database gets a sent campaign of N deliveries (a template with 5 links). `herald web`
serves it on a loopback port and `herald worker` runs beside it, as in production (uvicorn with
Herald's tracking protocol in front of Django; the worker records the journal), and nginx
(Debian's package, started with a configuration of its own on another port) serves a 1x1 GIF
for any /o/*.gif path: the ceiling of this machine for such a request. wrk (Debian's package)
then drives each with C connections from 127.0.0.1 for S seconds, asking for a different
delivery's pixel (or link) on each request through the same Lua script, so the client costs the
same for both. Each hit is written to the tracking journal before its answer (and synced to
disk first with ``--journal-fsync on``); the bench then
waits until the worker has recorded every answered request in the database and reports how
long that took after the load ended (``recorded_after_s``) and the rate at which events reached
the database (``recorded_per_s``, load and catching up together).

wrk and nginx are installed with apt-get when missing (as root).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import HERALD, REPO, five_link_campaign, fresh_database, herald

LUA = textwrap.dedent(
    """
    local paths = {}
    for line in io.lines(os.getenv("HERALD_BENCH_PATHS")) do paths[#paths + 1] = line end
    local i = math.random(#paths)
    request = function()
      i = i + 1
      local agent = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36"
      return wrk.format("GET", paths[(i % #paths) + 1], {["User-Agent"] = agent})
    end
    done = function(summary, latency, requests)
      io.write(string.format(
        'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
        '"status_errors": %d, "connect_errors": %d, "read_errors": %d, "timeouts": %d}\\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        summary.errors.status, summary.errors.connect, summary.errors.read,
        summary.errors.timeout))
    end
    """
)

NGINX_CONF = """
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /o/ {{
      root {dir};
      default_type image/gif;
      add_header Cache-Control "no-store";
      try_files /pixel.gif =404;
    }}
  }}
}}
"""


def seed(count: int, out: str) -> None:
    """In a child process pointed at the fresh database: a sent campaign of ``count``
    deliveries, and the files of their pixel and link paths for wrk."""
    import datetime as dt

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")
    django.setup()
    from django.utils import timezone

    from herald.campaigns.models import Delivery
    from herald.campaigns.tokens import reply_token

    campaign = five_link_campaign("completed")
    sent_at = timezone.now() - dt.timedelta(hours=1)
    Delivery.objects.bulk_create(
        (
            Delivery(
                campaign=campaign,
                contact_id=n + 1,
                email=f"r{n}@example.com",
                state="sent",
                sent_at=sent_at,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    ids = list(Delivery.objects.filter(campaign=campaign).values_list("id", flat=True))
    Path(out + ".open").write_text("".join(f"/o/{reply_token(i)}.gif\n" for i in ids))
    Path(out + ".click").write_text("".join(f"/c/{reply_token(i)}/{i % 5}\n" for i in ids))


CHILD = "import sys; sys.path[:0] = ['bench']; import tracking; tracking.{call}"


def _events(database_url: str, kind: str) -> int:
    """How many events of ``kind`` the database holds (read directly: polled often)."""
    query = "SELECT count(*) FROM campaigns_event WHERE kind = %s"
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30) as conn:
            return conn.execute(query.replace("%s", "?"), (kind,)).fetchone()[0]
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(query, (kind,)).fetchone()[0]


def _recorded(database_url: str, kind: str, expected: int, timeout: float = 600) -> float:
    """Waits until ``expected`` events of ``kind`` are in the database; returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    while (n := _events(database_url, kind)) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {n} of {expected} {kind} events recorded after {timeout} s")
        time.sleep(0.2)
    return time.monotonic()


def _ensure_tools() -> None:
    missing = [p for p, b in (("wrk", "wrk"), ("nginx", "nginx")) if not shutil.which(b)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"install {' '.join(missing)} first (apt-get install {' '.join(missing)})")
    packages = ["wrk" if m == "wrk" else "nginx-light" for m in missing]
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], check=True)
    for name in missing:
        if not shutil.which(name) and not Path(f"/usr/sbin/{name}").exists():
            raise SystemExit(f"{name} is still missing after apt-get install")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on port {port} after {seconds} s")


def _wrk(url: str, paths: Path, seconds: int, connections: int) -> dict:
    script = paths.parent / "paths.lua"
    script.write_text(LUA)
    threads = min(2, connections)
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        env={**os.environ, "HERALD_BENCH_PATHS": str(paths)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    figures = json.loads(line[len("WRKJSON ") :])
    figures["req_per_s"] = round(figures["requests"] / (figures["duration_us"] / 1e6), 1)
    figures["p50_ms"] = round(figures["p50_us"] / 1000, 2)
    figures["p99_ms"] = round(figures["p99_us"] / 1000, 2)
    return figures


def _measure(url: str, paths: Path, args: argparse.Namespace, database: str, event: str) -> dict:
    """A warm-up, then the measured run; waits for the worker to record every answered hit."""
    warm = _wrk(url, paths, 2, args.connections)  # recorded too
    before = warm["requests"] - warm["status_errors"]
    _recorded(database, event, before)
    started = time.monotonic()
    run = _wrk(url, paths, args.seconds, args.connections)
    ended = time.monotonic()
    answered = run["requests"] - run["status_errors"]
    done = _recorded(database, event, before + answered)
    run["answered"] = answered
    run["recorded_after_s"] = round(done - ended, 2)
    run["recorded_per_s"] = round(answered / (done - started), 1)
    run["events"] = _events(database, event)
    return run


def _nginx(workdir: Path, port: int) -> subprocess.Popen:
    from herald.tracking.pixel import GIF

    (workdir / "pixel.gif").write_bytes(GIF)
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)])


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench tracking")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="herald web processes (default: one per core; they write the journal, not the "
        "database)",
    )
    parser.add_argument(
        "--journal-fsync",
        choices=["on", "off"],
        default="off",
        help="sync each group of hits to disk before answering (HERALD_TRACKING_JOURNAL_FSYNC); "
        "by default a hit is written before its answer and synced within a second",
    )
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = os.cpu_count() or 1
    _ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-tracking-"))
    result: dict = {
        "database": args.database,
        "connections": args.connections,
        "workers": args.workers,
        "seconds": args.seconds,
        "journal_fsync": args.journal_fsync == "on",
    }
    with fresh_database(args.database) as env:
        herald(["migrate", "--verbosity", "0"], env)
        base = workdir / "paths"
        subprocess.run(
            [sys.executable, "-c", CHILD.format(call=f"seed({args.deliveries}, {str(base)!r})")],
            env={**os.environ, **env},
            cwd=REPO,
            check=True,
        )
        nginx_port, web_port = _free_port(), _free_port()
        nginx = _nginx(workdir, nginx_port)
        try:
            _wait_port(nginx_port, nginx)
            _wrk(f"http://127.0.0.1:{nginx_port}", Path(f"{base}.open"), 2, args.connections)
            ceiling = _wrk(
                f"http://127.0.0.1:{nginx_port}",
                Path(f"{base}.open"),
                args.seconds,
                args.connections,
            )
        finally:
            _stop(nginx)
        web_env = {
            **os.environ,
            **env,
            "HERALD_BASE_URL": f"http://127.0.0.1:{web_port}",
            "HERALD_TRACKING_JOURNAL_FSYNC": "1" if args.journal_fsync == "on" else "0",
        }
        command = [*HERALD, "web", "--host", "127.0.0.1", "--port", str(web_port)]
        web = subprocess.Popen(
            [*command, "--workers", str(args.workers)],
            env=web_env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        worker = subprocess.Popen(
            [*HERALD, "worker"], env=web_env, cwd=REPO, stdout=subprocess.DEVNULL
        )
        database = env["DATABASE_URL"]
        try:
            _wait_port(web_port, web)
            url = f"http://127.0.0.1:{web_port}"
            figures = {
                kind: _measure(url, Path(f"{base}.{kind}"), args, database, event)
                for kind, event in (("open", "opened"), ("click", "clicked"))
            }
        finally:
            _stop(web)
            _stop(worker)
    opens, clicks = figures["open"], figures["click"]
    result.update(
        req_per_s=opens["req_per_s"],
        p99_ms=opens["p99_ms"],
        p50_ms=opens["p50_ms"],
        click_req_per_s=clicks["req_per_s"],
        click_p99_ms=clicks["p99_ms"],
        nginx_req_per_s=ceiling["req_per_s"],
        nginx_p99_ms=ceiling["p99_ms"],
        percent_of_nginx=round(100 * opens["req_per_s"] / ceiling["req_per_s"], 1),
        click_percent_of_nginx=round(100 * clicks["req_per_s"] / ceiling["req_per_s"], 1),
        errors=opens["status_errors"] + clicks["status_errors"] + opens["timeouts"],
        # Every answered request has its event in the database (warm-ups counted too).
        answered_opens=opens["answered"],
        answered_clicks=clicks["answered"],
        open_events=opens["events"],
        click_events=clicks["events"],
        opens_recorded_after_s=opens["recorded_after_s"],
        clicks_recorded_after_s=clicks["recorded_after_s"],
        opens_recorded_per_s=opens["recorded_per_s"],
        clicks_recorded_per_s=clicks["recorded_per_s"],
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return result

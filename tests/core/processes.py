"""Helpers for the tests that start the real `herald` command as a child process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

REPO = Path(__file__).resolve().parents[2]
HERALD = REPO / ".venv" / "bin" / "herald"
ADMIN_EMAIL = "admin@example.com"
START_TIMEOUT = 60  # seconds: a cold start migrates a fresh database on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def herald_env(data_dir: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child `herald`: a fresh data directory, no inherited test settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HERALD_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env["HERALD_DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix="herald-proc-")
    env.update(extra)
    return env


@dataclass
class Running:
    process: subprocess.Popen[str]
    port: int
    smtp_port: int
    env: dict[str, str]
    out_path: Path
    err_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start(args: list[str], env: dict[str, str], port: int = 0, smtp_port: int = 0) -> Running:
    """Starts ``herald ARGS`` with its output going to files in its data directory."""
    data = Path(env["HERALD_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    stamp = time.monotonic_ns()
    out_path, err_path = data / f"stdout-{stamp}", data / f"stderr-{stamp}"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            [str(HERALD), *args], env=env, cwd=data, stdout=out, stderr=err, text=True
        )
    return Running(process, port, smtp_port, env, out_path, err_path)


def start_run(env: dict[str, str]) -> Running:
    """`herald run` on free ports, returned once /healthz answers."""
    port, smtp_port = free_port(), free_port()
    env = {**env, "HERALD_SANDBOX_SMTP_PORT": str(smtp_port)}
    running = start(["run", "--port", str(port)], env, port, smtp_port)
    wait_until_healthy(running)
    return running


def start_web(env: dict[str, str]) -> Running:
    """`herald migrate` then `herald web` on a free port, returned once /healthz answers."""
    migrate = start(["migrate"], env)
    assert migrate.process.wait(120) == 0, migrate.stderr()
    port = free_port()
    web = start(["web", "--port", str(port)], env, port)
    wait_until_healthy(web)
    return web


def wait_until_healthy(running: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(
                f"herald exited with {running.process.returncode} before answering:\n"
                f"{running.stdout()}\n{running.stderr()}"
            )
        try:
            status, _body = Browser(running.url).get("/healthz")
        except OSError:
            time.sleep(0.2)
            continue
        if status in {200, 503}:
            return
    running.stop()
    raise AssertionError(f"herald did not answer within {START_TIMEOUT}s:\n{running.stderr()}")


class Browser:
    """A tiny HTTP client with cookies, enough to log in through the real login form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies))

    def _open(self, request: Request) -> tuple[int, bytes]:
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.read()
        except HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self._open(Request(self.base + path))

    def get_response(self, path: str):
        return self.opener.open(Request(self.base + path), timeout=20)

    def post(self, path: str, data: dict[str, str]) -> tuple[int, bytes]:
        request = Request(
            self.base + path,
            data=urlencode(data).encode(),
            headers={"Referer": self.base + path},
        )
        return self._open(request)

    def csrf(self) -> str:
        return next(c.value for c in self.cookies if c.name == "csrftoken")

    def login(self, email: str, password: str) -> str:
        """Logs in through /login/ and returns the home page's HTML."""
        status, _ = self.get("/login/")
        assert status == 200
        status, body = self.post(
            "/login/",
            {"username": email, "password": password, "csrfmiddlewaretoken": self.csrf()},
        )
        assert status == 200, body[:500]
        return body.decode()


def generated_password(stdout: str) -> str | None:
    match = re.search(r"password: (\S+)\s+\(shown only now", stdout)
    return match.group(1) if match else None

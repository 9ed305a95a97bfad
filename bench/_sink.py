"""Postfix's ``smtp-sink`` for the benchmarks: installed from Debian when missing, started alone
(never the postfix daemon) on a free port of 127.0.0.1, stopped afterwards.

``smtp-sink`` accepts and discards mail as fast as a C server can (about 93 µs per message on the
development machine), so a benchmark against it measures Herald's side.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SINK = "/usr/sbin/smtp-sink"
POLICY = Path("/usr/sbin/policy-rc.d")


def ensure_smtp_sink() -> str:
    """The path of ``smtp-sink``, installing Debian's postfix package (unconfigured, daemon not
    started) when it is missing."""
    found = shutil.which("smtp-sink") or (SINK if os.path.exists(SINK) else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("smtp-sink is missing: install it with `sudo apt-get install postfix`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # "No configuration": the package installs its programs and leaves the mail system alone.
    subprocess.run(
        ["debconf-set-selections"],
        input="postfix postfix/main_mailer_type select No configuration\n",
        text=True,
        check=True,
        env=env,
    )
    # policy-rc.d exiting 101 tells Debian's scripts not to start the daemon being installed.
    made_policy = not POLICY.exists()
    if made_policy:
        POLICY.write_text("#!/bin/sh\nexit 101\n")
        POLICY.chmod(0o755)
    try:
        lock = ["-o", "DPkg::Lock::Timeout=300"]
        subprocess.run(["apt-get", *lock, "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", "postfix"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if made_policy:
            POLICY.unlink()
    return SINK


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink(backlog: int = 256) -> Iterator[tuple[int, subprocess.Popen]]:
    """Runs ``smtp-sink`` on a free port; yields (port, process)."""
    path = ensure_smtp_sink()
    port = free_port()
    command = [path]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # smtp-sink refuses to run as root without a user
    command += [f"127.0.0.1:{port}", str(backlog)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise SystemExit(f"smtp-sink did not start: {err.strip()}") from None
                time.sleep(0.05)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=10)

"""A real IMAP server for the tests: Debian's Dovecot (``dovecot-imapd``, installed by
``scripts/test-deps.sh``) started in the foreground with a throwaway configuration, Maildir and
passwd-file user, on free loopback ports: plain/STARTTLS on ``port``, TLS from the first byte on
``tls_port``. No system daemon, no port 143.

Use the ``dovecot`` fixture (import it into a test module: ``from tests.dovecot import dovecot``)
and ``DovecotServer.append()`` to put messages in a folder, as mail delivery would.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dialer.smtpd import self_signed

DOVECOT = "/usr/sbin/dovecot"
USER = "herald"
PASSWORD = "imap-s3cret"  # a throwaway test user's password
START_SECONDS = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(root: Path, port: int, tls_port: int, uid: int, gid: int, login_user: str) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
# LOGIN without TLS is allowed so that the "no security" setting can be tested too.
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {login_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


class DovecotServer:
    """Dovecot running until ``stop()``; ``cert_pem`` is the certificate to trust for TLS."""

    def __init__(self, extra_config: str = "") -> None:
        if not Path(DOVECOT).exists():
            pytest.fail(f"{DOVECOT} is missing: `make test` installs it (dovecot-imapd)")
        # Not under pytest's tmp_path: Dovecot's unprivileged processes must reach the files.
        self.root = Path(tempfile.mkdtemp(prefix="herald-dovecot-"))
        self.root.chmod(0o755)
        if os.getuid() == 0:
            # As root, mail processes run as nobody (Dovecot refuses uid 0 for mail access).
            account = pwd.getpwnam("nobody")
            uid, gid, login_user = account.pw_uid, account.pw_gid, "dovenull"
        else:
            uid, gid = os.getuid(), os.getgid()
            login_user = pwd.getpwuid(uid).pw_name
        self.user, self.password = USER, PASSWORD
        _cert, _key, self.cert_pem = self_signed(self.root, "dovecot.test")
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        home = self.root / "home" / USER
        home.mkdir(parents=True)
        os.chown(home, uid, gid)
        self.port, self.tls_port = _free_port(), _free_port()
        config = self.root / "dovecot.conf"
        config.write_text(
            _config(self.root, self.port, self.tls_port, uid, gid, login_user) + extra_config
        )
        self.process = subprocess.Popen(  # fixed program, our own config
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        self.append(b"From: a@example.org\r\nSubject: Welcome\r\n\r\nHello.\r\n")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                log = (self.root / "dovecot.log").read_text() if self.log_exists else ""
                pytest.fail(f"dovecot did not start:\n{output}\n{log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe,
            ):
                if probe.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"dovecot did not answer on port {self.port} within {START_SECONDS} s")

    @property
    def log_exists(self) -> bool:
        return (self.root / "dovecot.log").exists()

    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and only it)."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))

    def append(self, message: bytes, folder: str = "INBOX") -> None:
        """Puts ``message`` in ``folder`` (an IMAP name, modified UTF-7 for non-ASCII; created
        when missing), as delivery would."""
        quoted = '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as client:
            client.login(self.user, self.password)
            if folder != "INBOX":
                client.create(quoted)  # an existing folder answers NO, which is fine here
            status, data = client.append(quoted, "", None, message)
            if status != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data}")

    def client(self) -> imaplib.IMAP4:
        """A logged-in plain IMAP connection (the caller logs out)."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    """A Dovecot IMAP server with one user (``USER``/``PASSWORD``) and one message in INBOX."""
    server = DovecotServer()
    yield server
    server.stop()

"""`herald run`: the embedded default — web, worker and sandbox mailbox in one process."""

from __future__ import annotations

import os
import signal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from herald.accounts.actions import ensure_first_admin
from herald.core import serving
from herald.core.management.base import HeraldCommand
from herald.core.worker import HeraldWorker
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.sandbox import SandboxServer


class Command(HeraldCommand):
    help = "Run web, worker and the sandbox mailbox in one process (SQLite by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-sandbox", action="store_true", help="do not start the sandbox SMTP server"
        )

    def handle(self, *args: Any, host: str, port: int, no_sandbox: bool, **options: Any) -> None:
        sock = serving.bind(host, port)
        if not os.environ.get("HERALD_BASE_URL"):
            # Recipients' links (unsubscribe, tracking, view in browser) reach this process.
            shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
            settings.BASE_URL = f"http://{shown}:{sock.getsockname()[1]}"
        call_command("migrate", interactive=False, verbosity=0)
        try:
            first = ensure_first_admin(
                os.environ.get("HERALD_ADMIN_EMAIL", "admin@example.com"),
                os.environ.get("HERALD_ADMIN_PASSWORD") or None,
            )
        except ValidationError as exc:
            raise CommandError(f"HERALD_ADMIN_PASSWORD: {' '.join(exc.messages)}") from None
        if first.admin is not None:
            self.stdout.write(f"Created the first admin: {first.admin.email}")
            if first.password:
                self.stdout.write(
                    f"  password: {first.password}   (shown only now; you choose your own at "
                    "the first login)"
                )
        sandbox = None
        if not no_sandbox:
            sandbox = SandboxServer(settings.SANDBOX_SMTP_HOST, settings.SANDBOX_SMTP_PORT)
            try:
                sandbox.start()
            except OSError as exc:
                sock.close()
                raise CommandError(
                    f"the sandbox SMTP port {settings.SANDBOX_SMTP_PORT} is not available "
                    f"({exc.strerror or exc}): set HERALD_SANDBOX_SMTP_PORT to a free port"
                ) from None

        if sandbox is not None:
            ensure_sandbox_mailbox(settings.SANDBOX_SMTP_HOST, sandbox.port)
        else:
            ensure_sandbox_mailbox()
        # A worker thread that dies stops the whole process (as Ctrl-C would), to be restarted.
        worker = HeraldWorker(on_failure=lambda: os.kill(os.getpid(), signal.SIGTERM))
        worker.start()
        database = settings.DATABASES["default"]
        self.stdout.write(
            f"Herald is running at http://{host}:{port}/  "
            f"(database: {database['NAME']}; sandbox SMTP: "
            f"{'off' if sandbox is None else f'{settings.SANDBOX_SMTP_HOST}:{sandbox.port}'}). "
            "Press Ctrl-C to stop."
        )
        self.stdout.write(
            f"Links in sent mail point to {settings.BASE_URL}/"
            + (
                ""
                if os.environ.get("HERALD_BASE_URL")
                else "  (set HERALD_BASE_URL for the address recipients reach)"
            )
        )
        self.stdout.flush()
        try:
            serving.serve(sock)
        finally:
            self.stdout.write("Stopping: finishing work in progress…")
            worker.stop()
            if sandbox is not None:
                sandbox.stop()
            self.stdout.write("Herald stopped.")
        if worker.failure:
            raise CommandError(f"Herald stopped because a worker {worker.failure}: restart it")

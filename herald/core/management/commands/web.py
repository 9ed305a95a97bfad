"""`herald web`: the web half alone, for running it apart from the workers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from herald.core import serving
from herald.core.management.base import HeraldCommand


class Command(HeraldCommand):
    help = "Serve the web interface and API (ASGI, uvicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="server processes sharing the port (e.g. one per CPU core)",
        )

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        sock = serving.bind(host, port)
        self.stdout.write(f"Herald web at http://{host}:{port}/ (Ctrl-C to stop)")
        self.stdout.flush()
        serving.serve(sock, workers=workers)

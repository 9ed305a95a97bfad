"""`herald worker`: background tasks and long-running loops; run as many as the database allows."""

from __future__ import annotations

import faulthandler
import signal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from herald.core.management.base import HeraldCommand
from herald.core.worker import HeraldWorker


class Command(HeraldCommand):
    help = "Run the background worker until SIGTERM or Ctrl-C (work in progress is finished)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues", default="*", help="task queues, comma-separated (default: all)"
        )
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=0,
            help="serve this worker's Prometheus metrics on this port (0: off)",
        )

    def handle(self, *args: Any, queues: str, metrics_port: int, **options: Any) -> None:
        if metrics_port:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1")
        worker = HeraldWorker(queues=queues)
        requested: list[int] = []

        def stop(signum: int, frame: object) -> None:
            # Only a note, taking no lock: a handler that set the worker's Event deadlocked when
            # a second SIGTERM interrupted the first handler inside Event.set() (the same
            # thread then waits for the Condition's lock it holds).
            requested.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # SIGUSR1 writes every thread's stack to stderr: what a worker that does not stop is doing.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        worker.start()
        self.stdout.write(f"Herald worker {worker.worker_id} running (Ctrl-C to stop)")
        self.stdout.flush()
        worker.wait(requested)
        self.stdout.write("Stopping: finishing work in progress…")
        worker.stop()
        if worker.failure:
            raise CommandError(f"the worker stopped because a {worker.failure}: restart it")
        self.stdout.write("Worker stopped.")

"""Serving the ASGI app with uvicorn on a socket bound up front, so that a port already in use
is reported in one line before anything else starts."""

from __future__ import annotations

import errno
import signal
import socket
from collections.abc import Callable

import uvicorn
from django.core.management.base import CommandError


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is already in use: stop the program using it "
                f"or choose another port with --port"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    sock: socket.socket, on_started: Callable[[], None] | None = None, *, workers: int = 1
) -> None:
    """Serves until SIGINT/SIGTERM, then returns (instead of letting the signal kill us) so the
    caller can drain the worker. ``workers`` > 1 runs that many server processes on the socket
    (uvicorn's supervisor restarts one that dies)."""
    from django.conf import settings

    from herald.tracking.protocol import TrackingProtocol

    config = uvicorn.Config(
        "herald.asgi:application",
        # Answers the open pixel and click redirect without ASGI (herald.tracking.protocol).
        http=TrackingProtocol if settings.TRACKING_FAST_PATH else "httptools",
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        workers=workers,
    )
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        if on_started is not None:
            on_started()
        Multiprocess(config, sockets=[sock]).run()
        return
    server = uvicorn.Server(config)
    stopped: dict[str, int | None] = {"signal": None}

    def remember(signum: int, frame: object) -> None:
        stopped["signal"] = signum

    # uvicorn re-raises the signal it caught to the handler that was installed before it; these
    # make that a no-op so the process goes on to a clean shutdown of everything else.
    previous = {s: signal.signal(s, remember) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if on_started is not None:
            on_started()
        server.run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

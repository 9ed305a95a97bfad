"""The worker: runs background tasks (django-tasks' database backend) and Herald's long-running
loops (later: the dialer's pacer, IMAP ingestion), and beats a heartbeat that /healthz reads.

Durable work lives in the database — task rows, and per-recipient rows claimed with
``select_for_update(skip_locked=True)`` by the loops — never in this process's memory, so any
number of workers on any number of machines can share it and a killed worker loses nothing.
Stopping (SIGTERM, Ctrl-C) lets the task in progress and each loop's current iteration finish.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.compat import task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

from herald.core import logs
from herald.core.metrics import JOB_SECONDS, JOBS, WORKER_LOOPS
from herald.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loop:
    """A long-running duty of the worker: ``step()`` is called every ``interval`` seconds.

    ``step`` does one bounded piece of work (e.g. claim and send one batch) and returns whether
    there may be more to do right away, in which case it is called again without waiting.
    """

    name: str
    interval: float
    step: Callable[[], bool]
    close: Callable[[], None] | None = None  # called in the loop's thread when it ends
    nice: int = 0  # how much lower the loop thread's CPU priority is (background work)


LOOPS: list[Loop] = []


def register_loop(
    name: str, interval: float, *, close: Callable[[], None] | None = None, nice: int = 0
) -> Callable[[Callable[[], bool]], Callable[[], bool]]:
    """Adds a loop to every worker; used by the apps' ``AppConfig.ready``. ``step`` does one
    piece of work and says whether more is waiting; ``close`` releases what the loop's thread
    held (connections) when the worker stops; ``nice`` lowers the thread's CPU priority, for
    work that should yield the processor to what people wait for."""

    def decorator(step: Callable[[], bool]) -> Callable[[], bool]:
        if any(loop.name == name for loop in LOOPS):
            raise ValueError(f"a worker loop named {name!r} is already registered")
        LOOPS.append(Loop(name, interval, step, close, nice))
        return step

    return decorator


def lower_thread_priority(by: int) -> int | None:
    """Adds ``by`` to the calling thread's nice value (Linux keeps one per thread; elsewhere it
    would be the whole process's, so nothing is done). The new value, or None."""
    if not sys.platform.startswith("linux") or by <= 0:
        return None
    thread = threading.get_native_id()
    try:
        nice = min(os.getpriority(os.PRIO_PROCESS, thread) + by, 19)
        os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError as exc:
        logger.warning("cannot lower a worker thread's priority", extra={"error": str(exc)})
        return None
    return nice


_job_started: dict[int, tuple[float, object]] = {}


def _on_task_started(sender: object, task_result: object, **kwargs: object) -> None:
    token = logs.job_id.set(f"task:{getattr(task_result, 'id', '?')}")
    _job_started[threading.get_ident()] = (time.perf_counter(), token)


def _on_task_finished(sender: object, task_result: object, **kwargs: object) -> None:
    started, token = _job_started.pop(threading.get_ident(), (None, None))
    task = getattr(task_result, "task", None)
    # The dotted path, not the bare function name: two apps may each have a task named "send".
    name = getattr(task, "module_path", None) or getattr(task, "name", None) or "?"
    status = str(getattr(task_result, "status", "unknown")).lower().rsplit(".", 1)[-1]
    JOBS.labels(name, status).inc()
    if started is not None:
        JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
    logger.info("task finished", extra={"task": name, "status": status})
    if token is not None:
        logs.job_id.reset(token)  # type: ignore[arg-type]


task_started.connect(_on_task_started, dispatch_uid="herald-task-started")
task_finished.connect(_on_task_finished, dispatch_uid="herald-task-finished")


class HeraldWorker:
    """The worker's threads: the task runner, the heartbeat and every registered loop.

    A thread that dies (an exception escaping its loop, or its loop returning while the worker
    is not stopping) must not leave a process that looks alive and does nothing: the worker
    notes the ``failure``, stops beating (so that ``/healthz`` stops counting it) and stops; a
    process running it (``herald worker``, ``herald run``) passes ``on_failure`` to exit, so that
    its supervisor starts it again."""

    def __init__(
        self,
        *,
        queues: str = "*",
        task_interval: float = 0.5,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.failure: str | None = None
        self.on_failure = on_failure
        self.worker_id = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.task_worker = TaskWorker(
            queue_names=queues.split(","),
            interval=task_interval,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=self.worker_id[:64],
            excluded_queue_names=[],
        )
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "beat_at": timezone.now(),
                "stopped_at": None,
            },
        )
        connection.close()
        self._spawn("tasks", self._run_tasks)
        self._spawn("heartbeat", self._run_heartbeat)
        for loop in LOOPS:
            self._spawn(f"loop:{loop.name}", self._run_loop, loop)
        logger.info(
            "worker started",
            extra={"worker_id": self.worker_id, "loops": [loop.name for loop in LOOPS]},
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Asks every thread to finish its current piece of work, then waits for them."""
        self.stopping.set()
        self.task_worker.running = False
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        still = [t.name for t in self._threads if t.is_alive()]
        if still:
            logger.warning("worker threads still busy at shutdown", extra={"threads": still})
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(stopped_at=timezone.now())
        connection.close()
        logger.info("worker stopped", extra={"worker_id": self.worker_id})

    def wait(self, requested: list[int]) -> None:
        """Until a signal handler noted one in ``requested``, or ``stop`` was called (or a
        thread died)."""
        while not requested and not self.stopping.is_set():
            time.sleep(0.2)

    # -- threads ---------------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=self._guard, args=(target, *args), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, target: Callable[..., None], *args: object) -> None:
        name = threading.current_thread().name
        try:
            target(*args)
        except BaseException as exc:  # logged with its traceback, then the worker stops
            self._died(name, f"{type(exc).__name__}: {exc}", trace=True)
        else:
            if not self.stopping.is_set():
                self._died(name, "it ended by itself")
        finally:
            connection.close()

    def _died(self, thread: str, why: str, *, trace: bool = False) -> None:
        self.failure = f"thread {thread} died ({why})"
        logger.critical(
            "a worker thread died: the worker stops",
            extra={"worker_thread": thread, "why": why},
            exc_info=trace,
        )
        self.stopping.set()
        self.task_worker.running = False
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
                stopped_at=timezone.now()
            )
        except Exception:
            logger.exception("could not mark the worker stopped")
        if self.on_failure is not None:
            self.on_failure()

    def _run_tasks(self) -> None:
        self.task_worker.run()

    def _run_heartbeat(self) -> None:
        while not self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS):
            close_old_connections()
            try:
                WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
                    beat_at=timezone.now()
                )
            except Exception:
                logger.exception("heartbeat failed")

    def _run_loop(self, loop: Loop) -> None:
        lower_thread_priority(loop.nice)
        while not self.stopping.is_set():
            close_old_connections()
            more = False
            with logs.job_context(loop.name):
                try:
                    more = loop.step()
                except Exception:
                    logger.exception("worker loop step failed", extra={"loop": loop.name})
            WORKER_LOOPS.labels(loop.name).inc()
            if not more:
                self.stopping.wait(loop.interval)
        if loop.close is not None:
            try:
                loop.close()
            except Exception:
                logger.exception("worker loop close failed", extra={"loop": loop.name})

"""A tiny background task for the tests of the worker and its metrics."""

from __future__ import annotations

from django_tasks import task


@task(queue_name="default")
def add(a: int, b: int) -> int:
    return a + b


@task(queue_name="default")
def fail() -> None:
    raise ValueError("this task fails on purpose")

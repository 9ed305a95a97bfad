"""What rendering a template may cost: a manager's template must never freeze or exhaust the
process that renders it (the web at save and preview, the worker for every message).

Jinja2's sandbox keeps templates away from Python's internals but not from arithmetic: ``${
10**(2*10**7) }`` computes a number of twenty million digits (seconds of CPU with the GIL held,
at save, when Jinja folds constants), ``${ 'y' * (2*10**9) }`` allocates 2 GB, and a nested
loop runs as long as it likes. Bounds, each failing with a ``SecurityError`` that rendering turns
into a ``RenderError`` saying what to change:

- operators (intercepted by the sandbox, hence never folded at compile time): ``**`` with a
  result beyond ``MAX_INT_BITS``, ``*`` repeating a string or list beyond ``MAX_TEXT``, ``%``
  formatting with a width or precision beyond ``MAX_WIDTH``;
- filters that make long text from a short one (``center``, ``indent``, ``wordwrap``,
  ``truncate``, ``format``, ``replace``): their arguments are checked before they run;
- the text a render produces: at most ``MAX_OUTPUT`` characters;
- time: ``deadline`` interrupts a render running past ``MAX_RENDER_SECONDS`` (a watchdog thread
  raises ``RenderTimeout`` in the rendering thread, as Ctrl-C would; pure-Python loops are
  interrupted between two bytecodes);
- recursion: a macro calling itself ends in Python's ``RecursionError``, turned into a
  ``RenderError`` by ``rendering.render``.

No library bounds these for Jinja2 (its sandbox documents the gap), hence this module.
"""

from __future__ import annotations

import ctypes
import heapq
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jinja2.exceptions import SecurityError

MAX_INT_BITS = 4096  # about 1,200 decimal digits
MAX_TEXT = 1_000_000  # characters (or items) one operation may make
MAX_WIDTH = 1000  # a width, indent or precision
MAX_OUTPUT = 5_000_000  # characters of one rendered part
MAX_RENDER_SECONDS = 2.0

_FORMAT_SPEC = re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?[a-zA-Z%]")


class RenderTimeout(Exception):  # noqa: N818 - raised into the rendering thread by the watchdog
    """A render ran past ``MAX_RENDER_SECONDS``."""


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuses an operation whose result would be too large, before computing it."""
    if operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
        base = abs(left)
        if base > 1 and right > 0 and right * math.log2(base) > MAX_INT_BITS:
            raise SecurityError(
                f"{left} ** {right} is too large a number (at most {MAX_INT_BITS} bits)"
            )
    elif operator == "*":
        for text, times in ((left, right), (right, left)):
            n = _size(text)
            if n is not None and isinstance(times, int) and n * times > MAX_TEXT:
                raise SecurityError(
                    f"repeating a text {times} times makes more than {MAX_TEXT} characters"
                )
    elif operator == "%" and isinstance(left, str):
        check_format(left)


def check_format(pattern: str) -> None:
    """Refuses a %-format whose width or precision is beyond ``MAX_WIDTH`` (or given by ``*``)."""
    for match in _FORMAT_SPEC.finditer(pattern):
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise SecurityError(f"a width or precision in {match.group()!r} is too large")


_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)")


def check_format_method(pattern: str) -> None:
    """The same for ``str.format``: ``'{:>999999999}'.format(x)``."""
    for match in _BRACE_WIDTH.finditer(pattern):
        if int(match.group(1)) > MAX_WIDTH:
            raise SecurityError(f"a width or precision in {match.group()!r}}} is too large")


_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def check_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuses a call of a text method that would make huge text: ``'{:>999999999}'.format``,
    ``'x'.center(10**9)``, ``s.replace('', long)``."""
    method = getattr(function, "__wrapped__", function)  # the sandbox wraps str.format
    text = getattr(method, "__self__", None)
    if not isinstance(text, str):
        return
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        check_format_method(text)
    elif name in _WIDTH_METHODS:
        for value in (*args, *kwargs.values()):
            _at_most(value, f"{name} width")
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        times = text.count(old) if old else len(text) + 1
        if len(text) + times * len(new) > MAX_TEXT:
            raise SecurityError(f"this replace makes more than {MAX_TEXT} characters")


def _at_most(value: Any, name: str, limit: int = MAX_WIDTH) -> None:
    if isinstance(value, int | float) and value > limit:
        raise SecurityError(f"{name} {value} is too large (at most {limit})")


def bounded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Versions of the filters that could make huge text, checking their arguments first."""
    center, indent, wordwrap = filters["center"], filters["indent"], filters["wordwrap"]
    truncate, fmt, replace = filters["truncate"], filters["format"], filters["replace"]

    def bounded_center(value: Any, width: int = 80) -> Any:
        _at_most(width, "center width")
        return center(value, width)

    def bounded_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
        _at_most(width if isinstance(width, int) else len(str(width)), "indent width")
        return indent(value, width, *args, **kwargs)

    def bounded_wordwrap(env: Any, value: Any, width: int = 79, *args: Any, **kw: Any) -> Any:
        _at_most(width, "wordwrap width", MAX_TEXT)
        return wordwrap(env, value, width, *args, **kw)

    def bounded_truncate(env: Any, value: Any, length: int = 255, *args: Any, **kw: Any) -> Any:
        _at_most(length, "truncate length", MAX_TEXT)
        return truncate(env, value, length, *args, **kw)

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_format(str(value))
        return fmt(value, *args, **kwargs)

    def bounded_replace(
        eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None
    ) -> Any:
        text, old_text, new_text = str(value), str(old), str(new)
        times = text.count(old_text) if old_text else len(text) + 1
        if count is not None and count >= 0:
            times = min(times, count)
        if len(text) + times * len(new_text) > MAX_TEXT:
            raise SecurityError(f"this replace makes more than {MAX_TEXT} characters")
        return replace(eval_ctx, value, old, new, count)

    # Keep Jinja's way of passing the environment or evaluation context to each filter.
    for original, bounded in (
        (wordwrap, bounded_wordwrap),
        (truncate, bounded_truncate),
        (replace, bounded_replace),
    ):
        for marker in ("jinja_pass_arg",):
            if hasattr(original, marker):
                setattr(bounded, marker, getattr(original, marker))
    return {
        "center": bounded_center,
        "indent": bounded_indent,
        "wordwrap": bounded_wordwrap,
        "truncate": bounded_truncate,
        "format": bounded_format,
        "replace": bounded_replace,
    }


def joined(parts: Iterator[str]) -> str:
    """The rendered text, refused past ``MAX_OUTPUT`` characters."""
    out: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT:
            raise SecurityError(f"the message would be longer than {MAX_OUTPUT} characters")
        out.append(part)
    return "".join(out)


# -- the watchdog ------------------------------------------------------------------------------


class _Watchdog:
    """One daemon thread holding the deadlines of the renders under way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._deadlines: list[tuple[float, int, int]] = []  # (deadline, ticket, thread id)
        self._active: dict[int, int] = {}  # ticket: thread id, while its render runs
        self._fired: set[int] = set()
        self._tickets = 0
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> int:
        with self._lock:
            self._tickets += 1
            ticket = self._tickets
            thread_id = threading.get_ident()
            self._active[ticket] = thread_id
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, ticket, thread_id))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="render-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()
            return ticket

    def stop(self, ticket: int) -> None:
        with self._lock:
            thread_id = self._active.pop(ticket, None)
            if ticket in self._fired:
                self._fired.discard(ticket)
                if thread_id is not None:  # not delivered yet: it must not land elsewhere
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._deadlines and self._deadlines[0][1] not in self._active:
                    heapq.heappop(self._deadlines)
                if not self._deadlines:
                    self._wake.wait()
                    continue
                deadline, ticket, thread_id = self._deadlines[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._deadlines)
                self._fired.add(ticket)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread_id), ctypes.py_object(RenderTimeout)
                )


_watchdog = _Watchdog()


@contextmanager
def deadline(seconds: float = MAX_RENDER_SECONDS) -> Iterator[None]:
    """Interrupts the body with ``RenderTimeout`` if it runs longer than ``seconds``."""
    ticket = _watchdog.start(seconds)
    try:
        yield
    finally:
        _watchdog.stop(ticket)

"""Where an import's rows are read and parsed: in this process, or in a second one.

Parsing (csv, address checks) and writing (matching, inserts) each take about half of an
import's time, so by default a forked child parses the file while this process writes, passing
batches through a bounded queue (a few batches in flight: constant memory either side). The child
only reads the file: it never touches the database, and dies with its parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
from collections.abc import Generator
from pathlib import Path
from typing import Any

from herald.contacts import csvfile
from herald.contacts.rows import ParsedBatch, parsed_batches

QUEUE_BATCHES = 3
_DONE = "done"


def _source(job: Any, size: int) -> Generator[ParsedBatch, None, None]:
    records = csvfile.records(Path(job.file), job.encoding, job.delimiter, job.offset, job.line)
    yield from parsed_batches(records, job.header, job.columns, size)


def _child(
    args: tuple[str, str, str, int, int, list[str], dict[str, str]], size: int, out: Any
) -> None:
    path, encoding, delimiter, offset, line, header, columns = args
    gc.disable()  # no reference cycles here; the collector would only walk the batches
    try:
        records = csvfile.records(Path(path), encoding, delimiter, offset, line)
        for batch in parsed_batches(records, header, columns, size):
            out.put(batch)
        out.put(_DONE)
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def batches(job: Any, size: int, *, parallel: bool) -> Generator[ParsedBatch, None, None]:
    """The job's remaining rows from its checkpoint on, parsed, in batches of ``size``."""
    if not parallel:
        yield from _source(job, size)
        return
    context = multiprocessing.get_context("fork")
    out = context.Queue(maxsize=QUEUE_BATCHES)
    args = (job.file, job.encoding, job.delimiter, job.offset, job.line, job.header, job.columns)
    child = context.Process(target=_child, args=(args, size, out), daemon=True)
    child.start()
    try:
        while True:
            try:
                item = out.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError("the parsing process stopped unexpectedly") from None
                continue
            if item == _DONE:
                return
            if isinstance(item, tuple):
                raise RuntimeError(f"reading the file failed: {item[1]}")
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)
        out.close()

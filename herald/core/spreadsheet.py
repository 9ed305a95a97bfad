"""CSV files that people open in spreadsheet programs: a cell starting like a formula (``=``,
``+``, ``-``, ``@``, tab, CR) is written with a leading apostrophe, so that the program shows it
as text instead of running it (OWASP's "CSV injection")."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, as text when a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``safe_cell``; ``writerow`` returns what the
    file's ``write`` returns (the line itself, for a streamed response)."""

    def __init__(self, f: Any) -> None:
        self._writer = csv.writer(f)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])


class Lines:
    """A file whose ``write`` gives the line back: for ``StreamingHttpResponse``."""

    def write(self, value: str) -> str:
        return value

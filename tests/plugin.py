"""Loaded first (``-p tests.plugin``): prepares the environment before Django's settings are read,
and ends the run with one line per backend that really ran (database, browser)."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest

# Tests never touch ./var: each run gets its own data directory (secret key, media, sandbox).
os.environ.setdefault("HERALD_DATA_DIR", tempfile.mkdtemp(prefix="herald-test-"))
# SQLite tests use a real file (WAL, several connections: web thread, worker threads), as in use.
os.environ.setdefault(
    "HERALD_TEST_SQLITE_NAME", os.path.join(os.environ["HERALD_DATA_DIR"], "test.sqlite3")
)
# Fast hashing for the personas' passwords; real hashing is PBKDF2 (settings.PASSWORD_HASHERS).
os.environ.setdefault("HERALD_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("HERALD_SANDBOX_SMTP_PORT", "0")

_passed: Counter[str] = Counter()


@pytest.hookimpl(trylast=True)  # after tests/browser/conftest.py has marked its tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread for as long as its browser is open, which would break later tests' ``asyncio.run``."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        keywords = report.keywords
        if "django_db" in keywords:
            _passed["database"] += 1
        if "browser" in keywords:
            _passed["browser"] += 1
        _passed["all"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from django.conf import settings
    from django.db import connection

    vendor = connection.vendor
    db = settings.DATABASES["default"]
    where = (
        f"file {db['TEST']['NAME']}"
        if vendor == "sqlite"
        else f"{db.get('HOST')}:{db.get('PORT')}, database test_{db['NAME']}"
    )
    lines = [f"database backend: {vendor} ({where}): {_passed['database']} database tests passed"]
    if _passed["browser"]:
        lines.append(f"browser: chromium (/usr/bin/chromium): {_passed['browser']} tests passed")
    for line in lines:
        terminalreporter.write_line(line, bold=True)
    out = Path("var")
    if out.is_dir():
        with (out / "test-backends.txt").open("a") as f:
            f.writelines(line + "\n" for line in lines)

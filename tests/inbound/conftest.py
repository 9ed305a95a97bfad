"""Prints the corpus accuracy figures in the terminal summary, with or without -s."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.inbound.test_corpora import REPORT

    if REPORT:
        terminalreporter.section("classify accuracy on ../shared/corpora")
        for block in REPORT:
            terminalreporter.write_line(block)

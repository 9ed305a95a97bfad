"""A mistake in the configuration prints one line saying what to fix; `herald` exits non-zero."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.core.processes import HERALD, free_port, herald_env


def _herald(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HERALD), *args],
        env=herald_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DATABASE_URL": "mysql://herald@db/herald"}, ["DATABASE_URL", "mysql", "postgres://"]),
        ({"DATABASE_URL": "postgres://a:b@db:port/x"}, ["DATABASE_URL"]),
        ({"HERALD_PRODUCTION": "1"}, ["HERALD_SECRET_KEY"]),
        ({"HERALD_DEBUG": "maybe"}, ["HERALD_DEBUG", "'maybe'", "true/false"]),
        ({"HERALD_WORKER_STALE_SECONDS": "soon"}, ["HERALD_WORKER_STALE_SECONDS", "'soon'"]),
        ({"HERALD_WORKER_STALE_SECONDS": "1"}, ["HERALD_WORKER_STALE_SECONDS", "at least 5"]),
    ],
    ids=["bad-scheme", "bad-port-in-url", "production-without-secret", "boolean", "int", "range"],
)
def test_a_wrong_setting_is_one_line_naming_the_variable(env, words):
    for command in (["migrate"], ["run", "--port", str(free_port())]):
        result = _herald(command, **env)
        _assert_one_line_error(result, *words)
        assert result.returncode == 2


def test_an_unreachable_postgresql_server_is_one_line_with_the_address_but_not_the_password():
    port = free_port()  # nothing listens there
    result = _herald(["migrate"], DATABASE_URL=f"postgres://herald:s3cret@127.0.0.1:{port}/herald")
    line = _assert_one_line_error(result, "cannot connect", f"127.0.0.1:{port}", "***")
    assert "s3cret" not in line
    assert result.returncode == 1


def test_a_missing_postgresql_database_is_one_line():
    # The suite's PostgreSQL server (127.0.0.1:5432) answers, but this database does not exist;
    # with no server at all the same one-line error names the address.
    result = _herald(["run"], DATABASE_URL="postgres://postgres@127.0.0.1:5432/herald_no_such_db")
    _assert_one_line_error(result, "cannot connect", "herald_no_such_db")


def test_a_port_in_use_is_one_line_saying_to_choose_another():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _herald(["run", "--port", str(port)], HERALD_SANDBOX_SMTP_PORT="0")
        _assert_one_line_error(result, str(port), "already in use", "--port")
        result = _herald(["web", "--port", str(port)])
        _assert_one_line_error(result, str(port), "already in use", "--port")


def test_a_sandbox_smtp_port_in_use_is_one_line_saying_which_variable_to_change():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        smtp_port = taken.getsockname()[1]
        result = _herald(
            ["run", "--port", str(free_port())],
            HERALD_SANDBOX_SMTP_PORT=str(smtp_port),
            HERALD_ADMIN_PASSWORD="a long admin password",
        )
    _assert_one_line_error(result, str(smtp_port), "HERALD_SANDBOX_SMTP_PORT")

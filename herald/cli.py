"""The ``herald`` command: ``herald run``, ``herald web``, ``herald worker``, ``herald migrate``…

Each subcommand is a Django management command of one of Herald's apps, so that the apps add their
own (``herald contacts import``, ``herald campaign start``, ``herald mail classify``). Mistakes in
the configuration or an unreachable database print one line saying what to fix, not a traceback.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

USAGE = """usage: herald COMMAND [options]

  run            web + worker + sandbox mailbox in one process (the embedded default)
  web            the web server alone (ASGI)
  worker         the background worker alone (run as many as you like on PostgreSQL)
  migrate        create or upgrade the database
  createuser     add a user: herald createuser EMAIL --role agent|manager|admin
  contacts       contact lists: herald contacts import FILE.csv --list NAME
  campaign       herald campaign start|pause|resume|cancel|status NAME
  mail           herald mail classify FILE.eml ...
  bench          herald bench NAME: run one benchmark of bench/, print JSON

Configuration comes from the environment: DATABASE_URL, HERALD_DATA_DIR (default ./var),
HERALD_SECRET_KEY, HERALD_PRODUCTION, ... (see README.md). `herald COMMAND --help` for options.
"""


def _masked_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return "the SQLite database under HERALD_DATA_DIR"
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return f"DATABASE_URL={urlunsplit(parts)}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0 if argv else 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "herald.settings")

    from herald.env import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        print(f"herald: configuration error: {exc}", file=sys.stderr)
        return 2

    from django.core.management import execute_from_command_line
    from django.db import OperationalError, connection

    if argv[0] not in {"bench", "mail"}:  # pure commands that need no database
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            reason = (str(exc).strip().splitlines() or ["no answer"])[0]
            print(
                f"herald: cannot connect to {_masked_database_url()}: {reason}. "
                "Check that the database server runs and that the address is right.",
                file=sys.stderr,
            )
            return 1
    try:
        execute_from_command_line(["herald", *argv])
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(f"herald: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

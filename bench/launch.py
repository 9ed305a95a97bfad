"""`herald bench launch [--recipients N] [--database sqlite|postgres]`: how long starting a
campaign of N recipients takes.

The setup of ``bench/send.py`` (N contacts imported into a list, the 15 KB newsletter, a mailbox
on smtp-sink) on a fresh database; then ``do_start_campaign`` in a child process: pre-flight,
the one-statement insert of N deliveries, the skipped events, the commit. ``launch_s`` is that
whole start, ``insert_s`` the insert statement alone. Target: 1,000,000 in ≤ 20 s.
"""

from __future__ import annotations

import argparse

from bench._common import fresh_database
from bench.send import _sink_module, prepare


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench launch")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    sink = _sink_module()
    sink.ensure_smtp_sink()
    # The pre-flight connects to the mailbox's server: smtp-sink answers it.
    with sink.smtp_sink() as (port, _process), fresh_database(args.database) as env:
        setup = prepare(env, args.recipients, port, 1, "none")
    return {
        "recipients": args.recipients,
        "database": args.database,
        "launch_s": setup["launch_s"],
        "insert_s": setup["insert_s"],
        "deliveries_per_s": round(args.recipients / setup["launch_s"]),
        "import_s": setup["import_s"],
    }

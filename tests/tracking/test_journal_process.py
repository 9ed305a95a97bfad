"""A hit that `herald web` answered is on disk even when the process is killed right after: the
journal's promise, checked against the real command (``herald.tracking.journal``)."""

from __future__ import annotations

import signal
from pathlib import Path

from django.test import override_settings

from herald.campaigns.tokens import reply_token
from herald.tracking import journal, recording
from herald.tracking.pixel import GIF
from tests.core.processes import Browser, herald_env, start_web

SECRET = "journal-kill-test-" + "k" * 40


def test_opens_answered_before_a_kill_9_are_in_the_journal():
    env = herald_env(HERALD_SECRET_KEY=SECRET)
    with override_settings(SECRET_KEY=SECRET):  # the tokens the child's messages would carry
        tokens = {reply_token(n): n for n in range(1, 31)}
    web = start_web(env)
    try:
        browser = Browser(web.url)
        for token in tokens:
            assert browser.get(f"/o/{token}.gif") == (200, GIF)
    finally:
        web.stop(signal.SIGKILL)  # no shutdown, no last sync: what was answered must be there
    folder = Path(env["HERALD_DATA_DIR"]) / "tracking"
    hits = [
        journal.decode(line)
        for segment in folder.glob("*" + journal.SUFFIX)
        for line in segment.read_bytes().splitlines()
    ]
    assert sorted(hit.delivery_id for hit in hits) == sorted(tokens.values())
    assert {hit.kind for hit in hits} == {recording.OPEN}

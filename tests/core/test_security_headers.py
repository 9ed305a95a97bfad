"""Headers that protect every page: a Content-Security-Policy that allows no inline script
(and templates that need none), HSTS in production, and /metrics closed to strangers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from herald.core.middleware import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "herald" / "templates"
REPO = TEMPLATES.parents[1]


@pytest.mark.django_db
def test_every_kind_of_response_carries_the_policy(client_for, mike):
    for client, path in (
        (Client(), "/login/"),
        (client_for(mike), "/"),
        (client_for(mike), "/campaigns/"),
        (client_for(mike), "/api/v1/openapi.json"),
        (Client(), "/healthz"),
        (Client(), "/no-such-page/"),
    ):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
    script = re.search(r"script-src ([^;]*)", CONTENT_SECURITY_POLICY)
    assert script is not None
    assert script.group(1) == "'self'"  # no inline script, no eval


def test_no_template_relies_on_inline_script():
    inline_handler = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if inline_handler.search(text := path.read_text()) or inline_script.search(text)
    ]
    assert offenders == []


def _setting(name: str, **env: str) -> str:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'herald.settings'); "
        f"django.setup(); from django.conf import settings; print(settings.{name})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_production_tells_browsers_to_use_https_only():
    production = {
        "HERALD_PRODUCTION": "1",
        "HERALD_SECRET_KEY": "x" * 50,
        "HERALD_ALLOWED_HOSTS": "herald.example.com",
    }
    assert _setting("SECURE_HSTS_SECONDS", **production) == "31536000"
    assert _setting("SECURE_HSTS_SECONDS") == "0"  # the embedded default runs on plain HTTP


@pytest.mark.django_db
def test_metrics_answer_this_machine_or_the_token_holder(settings):
    assert Client().get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    refused = stranger.get("/metrics")
    assert refused.status_code == 403
    assert "HERALD_METRICS_TOKEN" in refused.content.decode()

    settings.METRICS_TOKEN = "s3cret-token"
    assert stranger.get("/metrics").status_code == 401
    assert Client().get("/metrics").status_code == 401  # with a token, even locally
    wrong = stranger.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = stranger.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200
    assert "herald_http_requests_total" in right.content.decode()

    settings.METRICS_TOKEN = ""
    settings.METRICS_PUBLIC = True
    assert stranger.get("/metrics").status_code == 200

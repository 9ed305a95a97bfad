"""Accounts as an attacker and a forgetful user meet them: logins throttled per account and per
address, the password rules on every path that sets one (page, API, CLI), one's own password
page, a reset by email that arrives in the sandbox, and a generated password that must be
replaced at the first login."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.test import Client

from herald.accounts import actions
from herald.accounts.models import Role, User
from herald.audit.actors import Actor
from herald.mailboxes import system_mail
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.mailboxes.sandbox import SandboxServer
from herald.mailboxes.system_mail import send_system_mail
from tests.conftest import PASSWORD
from tests.core.test_security_headers import REPO

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


def log_in(email: str, password: str, address: str = "198.51.100.7") -> Client:
    client = Client(REMOTE_ADDR=address)
    client.post("/login/", {"username": email, "password": password})
    return client


def logged_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_wrong_passwords_lock_the_account_then_the_right_one_waits(alice):
    for n in range(5):  # from five different addresses: the account itself is locked
        assert not logged_in(log_in(alice.email, "wrong password", f"203.0.113.{n}"))
    client = Client(REMOTE_ADDR="203.0.113.99")
    answer = client.post("/login/", {"username": alice.email, "password": PASSWORD})
    assert answer.status_code in (403, 429)
    assert "Too many failed logins" in answer.content.decode()
    assert not logged_in(client)


def test_wrong_passwords_from_one_address_lock_that_address(alice, mike):
    for n in range(5):  # five accounts guessed from one address
        log_in(f"nobody{n}@example.com", "guess", "192.0.2.50")
    assert not logged_in(log_in(mike.email, PASSWORD, "192.0.2.50"))
    assert logged_in(log_in(mike.email, PASSWORD, "192.0.2.51"))  # elsewhere, mike is fine


@pytest.mark.parametrize("weak", ["short", "password123", "alice@example.com"])
def test_the_password_rules_hold_on_the_api_and_the_page(weak, ada, alice, api_for, client_for):
    answer = api_for(ada).post(
        "/api/v1/users",
        {"email": "new@example.com", "role": "agent", "password": weak},
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert "password" in answer.json()["detail"]
    page = client_for(alice).post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
    )
    assert page.status_code == 200  # the form again, with why
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_password_rules_hold_on_the_command_line(tmp_path):
    """``herald run`` with a weak HERALD_ADMIN_PASSWORD refuses to create that admin."""
    from tests.core.processes import free_port

    result = subprocess.run(
        [sys.executable, "-m", "herald.cli", "run", "--port", str(free_port()), "--no-sandbox"],
        cwd=REPO,
        env={
            "HERALD_DATA_DIR": str(tmp_path),
            "HERALD_ADMIN_PASSWORD": "123",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "HERALD_ADMIN_PASSWORD" in result.stderr
    assert "too short" in result.stderr


def test_an_agent_changes_their_own_password(alice, client_for):
    client = client_for(alice)
    new = "a much longer secret phrase"
    answer = client.post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert answer.status_code == 302
    assert logged_in(client)  # still logged in on this browser
    assert logged_in(log_in(alice.email, new))
    assert not logged_in(log_in(alice.email, PASSWORD, "198.51.100.8"))


def test_a_generated_password_must_be_replaced_at_the_first_login():
    new = actions.do_create_user(ADMIN, email="first@example.com", role=Role.ADMIN)
    assert new.password is not None
    client = log_in("first@example.com", new.password)
    answer = client.get("/campaigns/")
    assert answer.status_code == 302
    assert answer["Location"] == "/settings/password/"
    assert "choose one only you know" in client.get("/settings/password/").content.decode()
    chosen = "my own passphrase here"
    client.post(
        "/settings/password/",
        {"old_password": new.password, "new_password1": chosen, "new_password2": chosen},
    )
    assert client.get("/campaigns/").status_code == 200
    assert not User.objects.get(email="first@example.com").must_change_password


@pytest.mark.django_db(transaction=True)  # the sandbox server stores from its own thread
def test_a_password_reset_link_arrives_in_the_sandbox_and_works(alice, monkeypatch, settings):
    settings.EMAIL_BACKEND = "herald.mailboxes.system_mail.Backend"  # tests default to memory
    server = SandboxServer("127.0.0.1", 0)
    ensure_sandbox_mailbox("127.0.0.1", server.start())
    sent: list[str] = []  # the worker's part, run here: the task sends through the mailbox
    monkeypatch.setattr(
        system_mail, "_enqueue", lambda *args: sent.append(send_system_mail.call(*args))
    )
    try:
        client = Client()
        answer = client.post("/password-reset/", {"email": alice.email})
        assert answer.status_code == 302
        assert sent == ["sent"]
        (mail,) = SandboxMessage.objects.filter(rcpt_tos=[alice.email])
        body = bytes(mail.raw).decode()
        link = re.search(r"https?://[^/\s]+(/reset/\S+/)", body)
        assert link is not None, body
        form = client.get(link.group(1), follow=True)
        new = "a brand new passphrase"
        done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
        assert done.status_code == 302
        assert logged_in(log_in(alice.email, new))
        again = client.get(link.group(1), follow=True).content.decode()
        assert "does not work any more" in again  # used once
    finally:
        server.stop()

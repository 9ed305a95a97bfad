"""Two-factor login as a user meets it: turned on by scanning and confirming a code, asked for
after the password (which alone no longer logs in), backup codes that work once, and the admin's
reset for a lost phone. Codes are computed from the device's secret as an authenticator app
would (RFC 6238)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from herald.audit.models import AuditEvent
from tests.accounts.test_passwords_and_logins import logged_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def app_code(device: TOTPDevice, *, steps_later: int = 0) -> str:
    """What an authenticator app shows now, or ``steps_later`` 30-s steps from now (a code is
    taken once: the one that turned two-factor on cannot log in too)."""
    key = device.bin_key
    code = totp(key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_later)
    return f"{code:06d}"


def unthrottled(user) -> TOTPDevice:
    """The user's authenticator, its wait after wrong codes lifted (which a real user waits)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    return device


def turn_on(client: Client, user) -> list[str]:
    page = client.get("/settings/two-factor/")
    assert b"<svg" in page.content  # the QR code to scan
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'data-testid="secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)
    assert secret.replace(" ", "")  # the key, for apps that take it typed
    done = client.post("/settings/two-factor/", {"action": "on", "code": app_code(device)})
    return re.findall(r"<code>([0-9a-z]+)</code>", done.content.decode())


def password_step(user, address: str = "198.51.100.20") -> Client:
    client = Client(REMOTE_ADDR=address)
    answer = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert answer.status_code == 302
    return client


def test_with_two_factor_on_the_password_alone_does_not_log_in(client_for, alice):
    codes = turn_on(client_for(alice), alice)
    assert len(codes) == 10
    client = password_step(alice)
    assert not logged_in(client)  # pending, not in
    page = client.get("/login/code/")
    assert b"Enter your code" in page.content
    wrong = client.post("/login/code/", {"code": "000000"})
    assert b"not right" in wrong.content
    assert not logged_in(client)
    device = unthrottled(alice)  # the wrong code above made the next try wait a second
    client.post("/login/code/", {"code": app_code(device)})
    assert not logged_in(client)  # the code that turned it on is used up
    device = unthrottled(alice)
    client.post("/login/code/", {"code": app_code(device, steps_later=1)})
    assert logged_in(client)


def test_a_wrong_first_code_leaves_two_factor_off(client_for, alice):
    client = client_for(alice)
    client.get("/settings/two-factor/")
    page = client.post("/settings/two-factor/", {"action": "on", "code": "123456"})
    assert b"not right" in page.content
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    assert logged_in(password_step(alice))  # the password alone still logs in


def test_a_backup_code_logs_in_once(client_for, alice):
    codes = turn_on(client_for(alice), alice)
    first = password_step(alice)
    first.post("/login/code/", {"code": codes[0]})
    assert logged_in(first)
    again = password_step(alice, "198.51.100.21")
    again.post("/login/code/", {"code": codes[0]})
    assert not logged_in(again)


def test_wrong_codes_end_the_pending_login(client_for, alice):
    turn_on(client_for(alice), alice)
    client = password_step(alice)
    for _ in range(5):
        client.post("/login/code/", {"code": "999999"})
    device = unthrottled(alice)
    answer = client.post("/login/code/", {"code": app_code(device, steps_later=1)})
    assert answer.status_code == 302
    assert answer["Location"] == "/login/"  # the password again, first
    assert not logged_in(client)


def test_the_code_page_without_a_password_step_sends_to_login():
    answer = Client().post("/login/code/", {"code": "123456"})
    assert answer.status_code == 302
    assert answer["Location"] == "/login/"


def test_turning_it_off_needs_the_password(client_for, alice):
    client = client_for(alice)
    turn_on(client, alice)
    refused = client.post("/settings/two-factor/", {"action": "off", "password": "not it"})
    assert b"not your password" in refused.content
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    client.post("/settings/two-factor/", {"action": "off", "password": PASSWORD})
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert logged_in(password_step(alice))


def test_an_admin_resets_a_lost_phone_and_it_is_audited(client_for, alice, ada, mike):
    turn_on(client_for(alice), alice)
    assert client_for(mike).post(f"/settings/users/{alice.pk}/two-factor/reset/").status_code == 403
    page = client_for(ada).get(f"/settings/users/{alice.pk}/")
    assert b'data-testid="two-factor-reset"' in page.content
    client_for(ada).post(f"/settings/users/{alice.pk}/two-factor/reset/")
    assert logged_in(password_step(alice))
    changes = [
        (e.actor_label, e.changes)
        for e in AuditEvent.objects.filter(action="user.two_factor").order_by("pk")
    ]
    assert changes[0][1] == {"two_factor": ["off", "on"]}
    assert changes[-1][1] == {"two_factor": ["on", "off"]}
    assert "ada@example.com" in changes[-1][0]


def test_the_next_page_survives_the_code_step(client_for, alice):
    turn_on(client_for(alice), alice)
    client = Client(REMOTE_ADDR="198.51.100.30")
    client.post(
        "/login/?next=/contacts/",
        {"username": alice.email, "password": PASSWORD, "next": "/contacts/"},
    )
    device = TOTPDevice.objects.get(user=alice, confirmed=True)
    answer = client.post("/login/code/", {"code": app_code(device, steps_later=1)})
    assert answer["Location"] == "/contacts/"

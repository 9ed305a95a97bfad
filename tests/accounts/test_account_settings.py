"""The account settings page: company identity and defaults, each change audited."""

from __future__ import annotations

import pytest

from herald.accounts.models import Account
from herald.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

FORM = {
    "company_name": "Acme Energy",
    "address": "1 Power Road\nLyon",
    "email": "hello@acme.example",
    "phone": "+33 4 00 00 00 00",
    "timezone": "Europe/Paris",
    "language": "fr",
}


def test_an_admin_saves_the_account_settings_and_templates_see_them(client_for, ada):
    response = client_for(ada).post("/settings/account/", FORM)
    assert response.status_code == 302
    account = Account.load()
    assert account.variables() == {
        "company_name": "Acme Energy",
        "company_address": "1 Power Road\nLyon",
        "company_email": "hello@acme.example",
        "company_phone": "+33 4 00 00 00 00",
    }
    [event] = AuditEvent.objects.filter(action="account.change")
    assert event.actor_user == ada
    assert event.changes["company_name"] == ["", "Acme Energy"]
    assert event.changes["timezone"] == ["UTC", "Europe/Paris"]


def test_a_wrong_timezone_is_refused_and_nothing_changes(client_for, ada):
    response = client_for(ada).post("/settings/account/", {**FORM, "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert Account.load().company_name == ""
    assert not AuditEvent.objects.filter(action="account.change").exists()


def test_a_manager_reads_but_cannot_change_the_account_settings(client_for, mike):
    assert client_for(mike).post("/settings/account/", FORM).status_code == 403
    assert Account.load().company_name == ""

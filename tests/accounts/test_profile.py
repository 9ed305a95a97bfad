"""Each user's profile: name, language and time zone, from the page or the API; every page shows
times in the user's zone (the account's when the user chose none), and each change is audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from herald.accounts.models import Account, User
from herald.audit.models import AuditEvent
from herald.dispositions import actions as dispositions
from tests import test_access_matrix as objects
from tests.campaigns.conftest import ACTOR

pytestmark = pytest.mark.django_db


def offset_shown(client) -> str:
    """The UTC offset of the time the profile page says it is."""
    page = client.get("/settings/profile/").content.decode()
    return re.search(r'data-testid="now" datetime="[^"]*([+-]\d\d:\d\d)"', page).group(1)


def test_times_follow_the_users_zone_then_the_accounts(client_for, alice):
    account = Account.load()
    account.timezone = "Asia/Tokyo"
    account.save()
    client = client_for(alice)
    assert offset_shown(client) == "+09:00"  # no zone of her own: the account's

    answer = client.post(
        "/settings/profile/", {"name": "Alice A.", "language": "fr", "time_zone": "America/Lima"}
    )
    assert answer.status_code == 302
    alice.refresh_from_db()
    assert (alice.name, alice.language, alice.time_zone) == ("Alice A.", "fr", "America/Lima")
    assert offset_shown(client) == "-05:00"
    assert 'lang="fr"' in client.get("/settings/profile/").content.decode()
    assert AuditEvent.objects.filter(action="user.profile", object_id=str(alice.pk)).exists()


def test_a_page_shows_a_recorded_time_in_the_users_zone(client_for, mike):
    call = dispositions.Call(
        call_id="c-1", code="SALE", called_at=dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    )
    dispositions.do_record_disposition(ACTOR, call, objects._contact(), "m@example.org")
    client = client_for(mike)
    mike.language = "fr"
    mike.save()
    assert "01/12/2026 10:00" in client.get("/dispositions/").content.decode()  # UTC account
    mike.time_zone = "Asia/Tokyo"
    mike.save()
    assert "01/12/2026 19:00" in client.get("/dispositions/").content.decode()


def test_the_api_reads_and_changes_ones_own_profile(api_for, mike):
    client = api_for(mike)
    json = "application/json"
    answer = client.patch("/api/v1/me", {"time_zone": "Europe/Rome"}, content_type=json)
    assert answer.status_code == 200
    assert answer.json()["time_zone"] == "Europe/Rome"
    refused = client.patch("/api/v1/me", {"time_zone": "Mars/Olympus"}, content_type=json)
    assert refused.status_code == 422
    assert client.patch("/api/v1/me", {"role": "admin"}, content_type=json).status_code == 422
    assert User.objects.get(pk=mike.pk).role == "manager"

"""Duplicating a campaign: a new draft with the same settings and lists, under a new name, from
the campaign's page or the API; a start time already past is not copied."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from herald.campaigns.models import Campaign
from tests.campaigns.conftest import make_list

pytestmark = pytest.mark.django_db


def test_a_copy_is_a_draft_with_the_same_settings_and_lists(make_campaign, client_for, mike):
    customers = make_list("Customers", ["ann@example.com"])
    original = make_campaign(
        [customers],
        windows=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        rate_count=20,
        rate_unit="minute",
        subject="Spring is here",
    )
    answer = client_for(mike).post(f"/campaigns/{original.pk}/duplicate/")
    copy = Campaign.objects.get(name="Spring offer (copy)")
    assert answer["Location"] == f"/campaigns/{copy.pk}/edit/"
    assert copy.status == "draft"
    assert list(copy.lists.all()) == [customers]
    same = ("mailbox_id", "template_id", "windows", "rate_count", "rate_unit", "subject")
    assert [getattr(copy, f) for f in same] == [getattr(original, f) for f in same]
    client_for(mike).post(f"/campaigns/{original.pk}/duplicate/")
    assert Campaign.objects.filter(name="Spring offer (copy 2)").exists()


def test_a_start_time_already_past_is_not_copied(make_campaign, api_for, mike):
    original = make_campaign([make_list("L", ["bo@example.com"])], name="Autumn")
    Campaign.objects.filter(pk=original.pk).update(
        start_mode="at", start_at=timezone.now() - dt.timedelta(days=1)
    )
    answer = api_for(mike).post(f"/api/v1/campaigns/{original.pk}/duplicate")
    assert answer.status_code == 201
    copy = Campaign.objects.get(pk=answer.json()["id"])
    assert (copy.name, copy.start_mode, copy.start_at) == ("Autumn (copy)", "manual", None)

"""Idempotency-Key: a POST retried with the same key has one effect and gets the same answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from herald.api.models import IdempotentRequest
from herald.contacts.models import ContactList

pytestmark = pytest.mark.django_db


def post(client, body: dict, key: str | None = "order-42"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/lists", body, content_type="application/json", **headers)


def test_a_retried_post_creates_once_and_answers_the_same(api_for, mike):
    client = api_for(mike)
    first = post(client, {"name": "Renewals"})
    again = post(client, {"name": "Renewals"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ContactList.objects.filter(name="Renewals").count() == 1


def test_without_a_key_each_post_has_its_effect(api_for, mike):
    client = api_for(mike)
    post(client, {"name": "Renewals"}, key=None)
    post(client, {"name": "Renewals 2"}, key=None)
    assert ContactList.objects.count() == 2


def test_the_same_key_for_another_request_is_refused(api_for, mike):
    client = api_for(mike)
    post(client, {"name": "Renewals"})
    refused = post(client, {"name": "Something else"})
    assert refused.status_code == 422
    assert "another request" in refused.json()["detail"]
    assert ContactList.objects.count() == 1


def test_keys_belong_to_their_token(api_for, mike):
    post(api_for(mike), {"name": "Renewals"})
    other = post(api_for(mike), {"name": "Renewals"})  # another token: its own keys
    assert "Idempotent-Replayed" not in other  # it ran (and found the name taken)
    assert other.status_code == 422
    assert IdempotentRequest.objects.count() == 2


def test_a_key_still_running_answers_409_and_an_old_key_is_forgotten(api_for, mike):
    client = api_for(mike)
    post(client, {"name": "Renewals"})
    row = IdempotentRequest.objects.get()
    IdempotentRequest.objects.filter(pk=row.pk).update(status=None)
    assert post(client, {"name": "Renewals"}).status_code == 409
    IdempotentRequest.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    later = post(client, {"name": "Renewals"})  # a new request: it runs
    assert "Idempotent-Replayed" not in later
    assert "already" in str(later.json()["detail"])


def test_a_key_too_long_is_refused(api_for, mike):
    assert post(api_for(mike), {"name": "Renewals"}, key="k" * 256).status_code == 422
    assert not ContactList.objects.exists()

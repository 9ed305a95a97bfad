"""API tokens on the pages: shown once, stored hashed, revocable, each user managing their own."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from herald.accounts import actions
from herald.accounts.models import ApiToken
from herald.audit.actors import Actor
from herald.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _create(client: Client, name: str, user_id: int) -> str:
    page = client.post("/settings/tokens/", {"name": name, "user": user_id}).content.decode()
    return re.search(r'data-testid="new-token">([^<]+)<', page).group(1)


def _everything_in_the_database() -> str:
    """Every value of every table, as text: what someone with a copy of the database sees."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            dump.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(dump)


def test_a_token_is_shown_once_and_only_its_hash_is_stored(client_for, alice):
    client = client_for(alice)
    plaintext = _create(client, "CRM sync", alice.pk)
    assert plaintext.startswith("hrd_")
    assert plaintext not in client.get("/settings/tokens/").content.decode()

    secret = plaintext.split("_", 2)[2]  # hrd_<prefix>_<secret>; the secret may contain "_"
    assert len(secret) >= 32
    stored = _everything_in_the_database()
    assert plaintext not in stored
    assert secret not in stored
    token = ApiToken.objects.get()
    assert token.digest != plaintext
    assert plaintext.startswith(f"hrd_{token.prefix}_")
    event = AuditEvent.objects.get(action="api_token.create")
    assert event.changes == {"user": [None, alice.email], "name": [None, "CRM sync"]}


def test_an_agent_creates_tokens_only_for_themselves(client_for, alice, mike):
    client = client_for(alice)
    response = client.post("/settings/tokens/", {"name": "sneaky", "user": mike.pk})
    assert response.status_code == 200
    assert "new-token" not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_an_agent_sees_and_revokes_only_their_own_tokens(client_for, alice, mike):
    mikes = actions.do_create_api_token(Actor.for_user(mike), mike, "mike's reports").token
    alices = actions.do_create_api_token(Actor.for_user(alice), alice, "alice's macro").token
    client = client_for(alice)
    page = client.get("/settings/tokens/").content.decode()
    assert "alice&#x27;s macro" in page
    assert "mike&#x27;s reports" not in page

    assert client.post(f"/settings/tokens/{mikes.pk}/revoke/").status_code == 404
    mikes.refresh_from_db()
    assert mikes.revoked_at is None

    assert client.post(f"/settings/tokens/{alices.pk}/revoke/").status_code == 302
    alices.refresh_from_db()
    assert alices.revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor_user == alice


def test_an_admin_manages_everyones_tokens(client_for, ada, alice):
    client = client_for(ada)
    _create(client, "for alice's CRM", alice.pk)
    token = ApiToken.objects.get()
    assert token.user == alice
    assert "alice@example.com" in client.get("/settings/tokens/").content.decode()
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoking_needs_a_post(client_for, alice):
    token = actions.do_create_api_token(Actor.for_user(alice), alice, "macro").token
    assert client_for(alice).get(f"/settings/tokens/{token.pk}/revoke/").status_code == 405

"""The accounts API: users, account settings and tokens, through the same actions as the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from herald.accounts import actions
from herald.accounts.models import Account, ApiToken, Role, User
from herald.audit.actors import Actor
from herald.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _bearer(plaintext: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def test_an_admin_creates_a_user_and_the_history_names_the_token(api_for, ada):
    response = api_for(ada).post(
        "/api/v1/users",
        {"email": "Nina@Example.com", "role": "manager"},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "nina@example.com"
    assert body["role"] == "manager"
    assert User.objects.get(email="nina@example.com").check_password(body["generated_password"])
    event = AuditEvent.objects.get(action="user.create")
    assert event.actor_user == ada
    assert event.actor_token is not None
    assert event.actor_label == "ada@example.com (API token test token)"


def test_a_bad_user_is_a_422_saying_why(api_for, ada, alice):
    client = api_for(ada)
    response = client.post(
        "/api/v1/users", {"email": "alice@example.com"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "already exists" in str(response.json()["detail"])
    response = client.post(
        "/api/v1/users", {"email": "no-at-sign"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "not a valid email" in str(response.json()["detail"])
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_an_admin_changes_and_deactivates_a_user(api_for, ada, alice):
    client = api_for(ada)
    response = client.patch(
        f"/api/v1/users/{alice.pk}", {"role": "manager"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "manager"
    response = client.patch(
        f"/api/v1/users/{alice.pk}", {"is_active": False}, content_type="application/json"
    )
    assert response.json()["is_active"] is False
    changes = [e.changes for e in AuditEvent.objects.filter(action="user.change").order_by("id")]
    assert changes == [{"role": ["agent", "manager"]}, {"is_active": [True, False]}]


def test_an_unknown_language_is_a_422_and_changes_nothing(api_for, ada, alice):
    response = api_for(ada).patch(
        f"/api/v1/users/{alice.pk}", {"language": "klingon"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "language" in response.json()["detail"]
    alice.refresh_from_db()
    assert alice.language == ""


def test_the_last_active_admin_cannot_demote_themselves_through_the_api(api_for, ada):
    response = api_for(ada).patch(
        f"/api/v1/users/{ada.pk}", {"role": "agent"}, content_type="application/json"
    )
    assert response.status_code == 422
    ada.refresh_from_db()
    assert ada.role == Role.ADMIN


def test_only_admins_manage_users_through_the_api(api_for, alice, mike):
    for user in (alice, mike):
        client = api_for(user)
        assert client.get("/api/v1/users").status_code == 403
        response = client.patch(
            f"/api/v1/users/{user.pk}", {"role": "admin"}, content_type="application/json"
        )
        assert response.status_code == 403
        user.refresh_from_db()
        assert user.role != Role.ADMIN


def test_the_account_settings_through_the_api_are_audited(api_for, ada, mike):
    assert api_for(mike).get("/api/v1/account").json()["company_name"] == ""
    assert (
        api_for(mike)
        .patch("/api/v1/account", {"company_name": "Acme"}, content_type="application/json")
        .status_code
        == 403
    )
    response = api_for(ada).patch(
        "/api/v1/account",
        {"company_name": "Acme", "phone": "+1 555 0100"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert Account.load().company_name == "Acme"
    event = AuditEvent.objects.get(action="account.change")
    assert event.changes == {"company_name": ["", "Acme"], "phone": ["", "+1 555 0100"]}

    response = api_for(ada).patch(
        "/api/v1/account", {"timezone": "Mars/Olympus"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert Account.load().timezone == "UTC"


def test_a_token_acts_as_its_user_and_notes_when_it_was_used(alice):
    new = actions.do_create_api_token(Actor.for_user(alice), alice, "macro")
    assert new.token.last_used_at is None
    response = _bearer(new.plaintext).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    new.token.refresh_from_db()
    assert new.token.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(alice):
    new = actions.do_create_api_token(Actor.for_user(alice), alice, "macro")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    ApiToken.objects.filter(pk=new.token.pk).update(last_used_at=an_hour_ago)
    _bearer(new.plaintext).get("/api/v1/me")
    new.token.refresh_from_db()
    first = new.token.last_used_at
    assert first > an_hour_ago
    _bearer(new.plaintext).get("/api/v1/me")
    new.token.refresh_from_db()
    assert new.token.last_used_at == first


@pytest.mark.parametrize(
    "header",
    ["Bearer hrd_nope", "Bearer hrd_000000000000_guess", "Token abc", ""],
    ids=["malformed", "unknown", "wrong-scheme", "none"],
)
def test_a_wrong_token_is_a_401(alice, header):
    client = Client(headers={"Authorization": header}) if header else Client()
    assert client.get("/api/v1/me").status_code == 401


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_a_401(alice):
    new = actions.do_create_api_token(Actor.for_user(alice), alice, "macro")
    forged = new.plaintext[:-4] + ("AAAA" if not new.plaintext.endswith("AAAA") else "BBBB")
    assert _bearer(forged).get("/api/v1/me").status_code == 401


def test_a_revoked_token_is_a_401(alice):
    new = actions.do_create_api_token(Actor.for_user(alice), alice, "macro")
    client = _bearer(new.plaintext)
    assert client.delete(f"/api/v1/tokens/{new.token.pk}").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor_token == new.token


def test_a_deactivated_users_tokens_stop_working(alice, ada):
    new = actions.do_create_api_token(Actor.for_user(alice), alice, "macro")
    assert _bearer(new.plaintext).get("/api/v1/me").status_code == 200
    actions.do_change_user(Actor.for_user(ada), alice, is_active=False)
    assert _bearer(new.plaintext).get("/api/v1/me").status_code == 401


def test_a_new_token_is_returned_once_and_works(api_for, alice):
    response = api_for(alice).post(
        "/api/v1/tokens", {"name": "second"}, content_type="application/json"
    )
    assert response.status_code == 201
    plaintext = response.json()["token"]
    assert _bearer(plaintext).get("/api/v1/me").json()["email"] == alice.email
    listed = _bearer(plaintext).get("/api/v1/tokens").json()
    assert {t["name"] for t in listed} == {"test token", "second"}
    assert all("token" not in t for t in listed)  # the list never shows a token again


def test_an_agent_manages_only_their_own_tokens_through_the_api(api_for, alice, mike):
    mikes = actions.do_create_api_token(Actor.for_user(mike), mike, "reports").token
    client = api_for(alice)
    assert "reports" not in {t["name"] for t in client.get("/api/v1/tokens").json()}
    assert client.delete(f"/api/v1/tokens/{mikes.pk}").status_code == 404
    mikes.refresh_from_db()
    assert mikes.revoked_at is None
    response = client.post(
        "/api/v1/tokens", {"name": "as mike", "user_id": mike.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not ApiToken.objects.filter(name="as mike").exists()


def test_an_admin_creates_a_token_for_another_user(api_for, ada, alice):
    response = api_for(ada).post(
        "/api/v1/tokens", {"name": "crm", "user_id": alice.pk}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["user_email"] == alice.email
    assert _bearer(response.json()["token"]).get("/api/v1/me").json()["email"] == alice.email


def test_the_openapi_page_describes_the_api(client_for, alice):
    assert Client().get("/api/v1/openapi.json").json()["info"]["title"] == "Herald API"
    assert Client().get("/api/v1/docs").status_code == 200


def test_the_schema_declares_the_errors_each_operation_answers():
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    patch = paths["/api/v1/contacts/{contact_id}"]["patch"]["responses"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(patch)
    assert patch["422"]["content"]["application/json"]["schema"]["required"] == ["detail"]
    take = paths["/api/v1/conversations/{conversation_id}/take"]["post"]["responses"]
    assert "409" in take  # taken by someone else
    assert "400" not in paths["/api/v1/me"]["get"]["responses"]  # no body to refuse


def test_errors_outside_the_operations_are_json_too(api_for, mike):
    for method in ("get", "patch", "delete"):
        answer = getattr(api_for(mike), method)("/api/v1/contacts/not-a-number/x")
        assert answer.status_code == 404
        assert "no API operation" in answer.json()["detail"]
    answer = api_for(mike).get("/api/v1/contacts?q=a%00b")
    assert answer.status_code == 400
    assert "NUL" in answer.json()["detail"]


def test_an_address_with_a_line_break_under_the_api_is_a_json_404(api_for, mike):
    answer = api_for(mike).delete("/api/v1/contacts/%0A%1B")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"


def test_a_user_changes_their_own_password_through_the_api(api_for, alice):
    from tests.conftest import PASSWORD

    client = api_for(alice)
    wrong = client.post(
        "/api/v1/me/password",
        {"current_password": "not it", "new_password": "a brand new passphrase"},
        content_type="application/json",
    )
    assert wrong.status_code == 422
    assert "current_password" in wrong.json()["detail"]
    weak = client.post(
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": "short"},
        content_type="application/json",
    )
    assert weak.status_code == 422
    done = client.post(
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        content_type="application/json",
    )
    assert done.status_code == 204
    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase")

"""Users: created, changed and deactivated through the Users pages, each change audited."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from herald.accounts import actions
from herald.accounts.models import Role, User
from herald.audit.actors import Actor
from herald.audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_an_admin_creates_a_user_on_the_users_page_and_sees_the_password_once(client_for, ada):
    admin = client_for(ada)
    response = admin.post(
        "/settings/users/",
        {"email": "Nina@Example.com", "name": "Nina", "role": "manager", "password": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "nina@example.com" in page
    nina = User.objects.get(email="nina@example.com")
    assert nina.role == Role.MANAGER
    password = page.split("shown only now: ", 1)[1].split("<", 1)[0].strip()
    assert nina.check_password(password)
    assert password not in admin.get("/settings/users/").content.decode()

    [event] = _events("user.create")
    assert event.actor_user == ada
    assert event.object_id == str(nina.pk)
    assert event.changes["email"] == [None, "nina@example.com"]
    assert event.changes["role"] == [None, "manager"]


def test_a_duplicate_email_is_refused_on_the_form(client_for, ada, alice):
    response = client_for(ada).post(
        "/settings/users/", {"email": "ALICE@example.com", "role": "agent"}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email="alice@example.com").count() == 1
    assert not _events("user.create")


def test_an_admin_changes_a_role_and_the_history_shows_before_and_after(client_for, ada, alice):
    response = client_for(ada).post(
        f"/settings/users/{alice.pk}/",
        {"name": "Alice Martin", "role": "manager", "language": "fr", "is_active": "on"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.role, alice.name, alice.language) == ("manager", "Alice Martin", "fr")
    [event] = _events("user.change")
    assert event.changes == {
        "role": ["agent", "manager"],
        "name": ["alice", "Alice Martin"],
        "language": ["", "fr"],
    }
    assert event.actor_label == "ada@example.com"


def test_saving_a_user_unchanged_writes_no_history(client_for, ada, alice):
    client_for(ada).post(
        f"/settings/users/{alice.pk}/",
        {"name": "alice", "role": "agent", "language": "", "is_active": "on"},
    )
    assert not _events("user.change")


def test_a_deactivated_user_can_no_longer_log_in_nor_keep_their_session(client_for, ada, alice):
    session = client_for(alice)
    assert session.get("/").status_code == 200
    client_for(ada).post(
        f"/settings/users/{alice.pk}/", {"name": "alice", "role": "agent", "language": ""}
    )
    alice.refresh_from_db()
    assert alice.is_active is False
    assert _events("user.change")[0].changes == {"is_active": [True, False]}

    assert session.get("/").status_code == 302  # the open session is over
    response = Client().post("/login/", {"username": alice.email, "password": PASSWORD})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(ada, olga):
    # olga is an admin too, but deactivated: ada is the last active one.
    for change in ({"role": Role.MANAGER}, {"is_active": False}):
        with pytest.raises(ValidationError, match="at least one active admin"):
            actions.do_change_user(Actor.system("command line"), ada, **change)
    ada.refresh_from_db()
    assert ada.role == Role.ADMIN
    assert ada.is_active
    assert not _events("user.change")


def test_an_admin_may_be_demoted_while_another_admin_remains(ada, mike):
    actions.do_change_user(Actor.system("test"), mike, role=Role.ADMIN)
    actions.do_change_user(Actor.for_user(mike), ada, role=Role.AGENT)
    ada.refresh_from_db()
    assert ada.role == Role.AGENT


def test_an_admin_cannot_demote_or_deactivate_themselves_on_the_page(client_for, ada, mike):
    response = client_for(ada).post(
        f"/settings/users/{ada.pk}/", {"name": "ada", "role": "agent", "is_active": "on"}
    )
    assert response.status_code == 200
    assert "your own role" in response.content.decode()
    ada.refresh_from_db()
    assert ada.role == Role.ADMIN


def test_an_unknown_language_is_refused(ada, alice):
    with pytest.raises(ValidationError):
        actions.do_change_user(Actor.for_user(ada), alice, language="klingon")
    alice.refresh_from_db()
    assert alice.language == ""
    assert not _events("user.change")


def test_the_audit_row_rolls_back_with_a_failed_change(ada, alice, monkeypatch):
    real_record = actions.record

    def record_then_fail(*args, **kwargs):
        real_record(*args, **kwargs)
        assert AuditEvent.objects.filter(action="user.change").exists()  # written...
        raise RuntimeError("disk full")

    monkeypatch.setattr(actions, "record", record_then_fail)
    with pytest.raises(RuntimeError):
        actions.do_change_user(Actor.for_user(ada), alice, role=Role.MANAGER)
    alice.refresh_from_db()
    assert alice.role == Role.AGENT  # ...and gone with the change it described
    assert not _events("user.change")


def test_only_admins_open_the_users_pages(client_for, alice, mike):
    for user in (alice, mike):
        assert client_for(user).get("/settings/users/").status_code == 403
        response = client_for(user).post("/settings/users/", {"email": "x@example.com"})
        assert response.status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


def test_createuser_on_the_command_line_is_audited_as_the_command_line(db, monkeypatch):
    monkeypatch.setenv("HERALD_NEW_USER_PASSWORD", "a password from the shell")
    out = io.StringIO()
    call_command("createuser", "carl@example.com", "--role", "manager", stdout=out)
    carl = User.objects.get(email="carl@example.com")
    assert carl.role == Role.MANAGER
    assert carl.check_password("a password from the shell")
    assert "password:" not in out.getvalue()  # it was given, so it is not echoed
    [event] = _events("user.create")
    assert event.actor_label == "command line"
    assert event.actor_user is None


def test_createuser_without_a_password_prints_the_generated_one(db):
    out = io.StringIO()
    call_command("createuser", "dana@example.com", stdout=out)
    password = out.getvalue().split("password: ", 1)[1].split()[0]
    assert User.objects.get(email="dana@example.com").check_password(password)

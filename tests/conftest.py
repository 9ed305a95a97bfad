"""Shared fixtures: the personas every test speaks of, and clients logged in as each.

- alice, an agent; mike, a manager; ada, an admin; olga, an outsider (a deactivated user).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from herald.accounts import actions
from herald.accounts.models import Role, User
from herald.audit.actors import Actor

PASSWORD = "correct horse battery staple"


def _user(email: str, role: Role, *, active: bool = True) -> User:
    return User.objects.create_user(
        email=email,
        password=PASSWORD,
        role=role,
        is_active=active,
        name=email.partition("@")[0],
    )


@pytest.fixture
def alice(db: None) -> User:
    return _user("alice@example.com", Role.AGENT)


@pytest.fixture
def mike(db: None) -> User:
    return _user("mike@example.com", Role.MANAGER)


@pytest.fixture
def ada(db: None) -> User:
    return _user("ada@example.com", Role.ADMIN)


@pytest.fixture
def olga(db: None) -> User:
    return _user("olga@example.com", Role.ADMIN, active=False)


@pytest.fixture
def personas(alice: User, mike: User, ada: User, olga: User) -> dict[str, User]:
    return {"agent": alice, "manager": mike, "admin": ada, "outsider": olga}


@pytest.fixture
def client_for() -> Callable[[User | None], Client]:
    """A test client logged in as the given user (or anonymous for None)."""

    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_for() -> Callable[[User], Client]:
    """A test client that sends a fresh API token of the given user on every request."""

    def make(user: User) -> Client:
        new = actions.do_create_api_token(Actor.system("test"), user, "test token")
        return Client(headers={"Authorization": f"Bearer {new.plaintext}"})

    return make

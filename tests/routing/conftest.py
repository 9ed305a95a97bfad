"""Routing's tests: the desk's "Offers" mailbox (tests.conversations.conftest) with automatic
assignment on, a capacity of 2 per agent, and alice and bob available.

The tests run in transactions that commit (``transaction=True``), as the web and the worker do:
routing happens after each change commits."""

from __future__ import annotations

import pytest

from herald.accounts.models import User
from herald.mailboxes.models import Mailbox
from herald.routing import actions as routing
from tests.conversations.conftest import (  # noqa: F401 - fixtures
    bob,
    customer_mail,
    desk,
    mailbox,
    make_campaign,
    smtp,
)

__all__ = ["customer_mail"]


@pytest.fixture
def routed(desk: Mailbox, alice: User, bob: User) -> Mailbox:  # noqa: F811
    Mailbox.objects.filter(pk=desk.pk).update(auto_assign=True, agent_capacity=2)
    desk.refresh_from_db()
    routing.do_set_presence(alice, "available")
    routing.do_set_presence(bob, "available")
    return desk

"""The preview draws contacts from a chosen list, one after the other."""

from __future__ import annotations

import pytest

from herald.audit.actors import Actor
from herald.messaging import actions, queries

pytestmark = pytest.mark.django_db


def test_the_preview_shows_the_contacts_of_a_list_one_after_the_other(client_for, mike):
    from herald.contacts.actions import do_create_list, do_upsert_contacts

    contact_list = do_create_list(Actor.for_user(mike), name="Spring")
    people = [{"first_name": name, "emails": [f"{name}@example.com"]} for name in ("Ana", "Bruno")]
    do_upsert_contacts(Actor.for_user(mike), people, contact_list)
    saved = actions.do_save_template(
        Actor.for_user(mike), None, name="T", subject="Hi", html="<p>Hi ${first_name}</p>"
    )
    assert (contact_list.pk, "Spring") in queries.contact_lists()
    url = f"/templates/{saved.template.pk}/preview/"
    first = client_for(mike).get(url, {"list": contact_list.pk, "pos": 0}).content.decode()
    second = client_for(mike).get(url, {"list": contact_list.pk, "pos": 1}).content.decode()
    wrapped = client_for(mike).get(url, {"list": contact_list.pk, "pos": 2}).content.decode()
    assert "Hi Ana" in first
    assert "contact 1 of 2" in first
    assert "Hi Bruno" in second
    assert "Hi Ana" in wrapped  # next after the last wraps around to the first

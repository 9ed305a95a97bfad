"""Every edit form, saved as the page shows it, changes nothing: a field the page leaves out, or
shows otherwise than it stores, would be saved changed without anyone asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import models

from herald.accounts.models import Account, Role, User
from herald.mailboxes.actions import do_save_mailbox
from herald.messaging.actions import do_save_template
from tests.campaigns.conftest import ACTOR
from tests.forms import submitted

pytestmark = pytest.mark.django_db

IGNORED = {"updated_at", "last_login", "password"}


def _stored(row: models.Model) -> dict[str, Any]:
    row.refresh_from_db()
    return {
        f.attname: getattr(row, f.attname)
        for f in row._meta.concrete_fields
        if f.name not in IGNORED
    }


def _mailbox() -> tuple[models.Model, str, str]:
    mailbox = do_save_mailbox(
        ACTOR,
        None,
        {
            "name": "Support",
            "from_address": "help@herald.test",
            "from_name": "Help desk",
            "reply_to": "answers@herald.test",
            "smtp_host": "smtp.herald.test",
            "smtp_port": 2525,
            "smtp_security": "starttls",
            "smtp_username": "help",
            "imap_host": "imap.herald.test",
            "imap_username": "help",
            "max_connections": 3,
            "desk_mode": "open",
            "wrapup_required": True,
            "max_outbound_open": 7,
        },
        secrets={"smtp_password": "s3cret", "imap_password": "s3cret-too"},
    )
    return mailbox, f"/mailboxes/{mailbox.pk}/", "from_address"


def _template() -> tuple[models.Model, str, str]:
    template = do_save_template(
        ACTOR,
        None,
        name="Welcome",
        subject="Hello ${first_name|there}",
        html="<p>Dear ${first_name|customer},</p><p>Welcome.</p>",
        text="Dear ${first_name|customer}, welcome.",
    ).template
    return template, f"/templates/{template.pk}/", "subject"


def _account() -> tuple[models.Model, str, str]:
    account = Account.load()
    return account, "/settings/account/", "company_name"


def _user() -> tuple[models.Model, str, str]:
    user = User.objects.create_user(email="zed@example.com", role=Role.MANAGER, name="Zed")
    return user, f"/settings/users/{user.pk}/", "role"


def _contact() -> tuple[models.Model, str, str]:
    from herald.contacts.actions import do_upsert_contacts
    from herald.contacts.models import Contact

    do_upsert_contacts(
        ACTOR,
        [
            {
                "first_name": "Zoë",
                "last_name": "Ortiz",
                "company": "Acme",
                "external_id": "CRM-1",
                "language": "es",
                "timezone": "Europe/Madrid",
                "emails": ["zoe@example.com", "z.ortiz@example.org"],
                "fields": {"tier": 2, "vip": True, "city": "Sevilla", "note": None},
            }
        ],
    )
    contact = Contact.objects.get(external_id="CRM-1")
    return contact, f"/contacts/{contact.pk}/edit/", "first_name"


def _webhook() -> tuple[models.Model, str, str]:
    from herald.webhooks.actions import do_create_endpoint

    endpoint = do_create_endpoint(
        ACTOR,
        "https://crm.example.com/herald",
        event_types=["delivery.opened", "conversation.closed"],
        description="CRM",
        active=False,
    )
    return endpoint, f"/settings/webhooks/{endpoint.pk}/", "url"


@pytest.mark.parametrize(
    "make", [_mailbox, _template, _account, _user, _contact, _webhook], ids=lambda f: f.__name__
)
def test_saving_a_form_as_shown_changes_nothing(
    make: Callable[[], tuple[models.Model, str, str]], ada, client_for
):
    row, url, having = make()
    before = _stored(row)
    client = client_for(ada)
    form = submitted(client.get(url).content.decode(), having=having)
    response = client.post(url, form)
    assert response.status_code in (200, 302)
    assert b"errorlist" not in response.content, response.content.decode()[:3000]
    assert _stored(row) == before

"""Deleting lists, templates, draft campaigns and mailboxes through the API: done when nothing
needs them, refused (409, with the reasons) when something does, and audited."""

from __future__ import annotations

import pytest

from herald.audit.models import AuditEvent
from herald.campaigns.models import Campaign
from herald.contacts.models import ContactList
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from herald.messaging.models import Template
from tests import test_access_matrix as objects
from tests.campaigns.conftest import ACTOR

pytestmark = pytest.mark.django_db


def delete(client, path: str):
    return client.delete(path, content_type="application/json")


def test_a_list_a_campaign_sends_to_is_kept_until_the_campaign_is_done(api_for, mike):
    campaign = objects._campaign()
    contact_list = campaign.lists.get()
    refused = delete(api_for(mike), f"/api/v1/lists/{contact_list.pk}")
    assert refused.status_code == 409
    assert any(campaign.name in reason for reason in refused.json()["reasons"])
    Campaign.objects.filter(pk=campaign.pk).update(status="completed")
    assert delete(api_for(mike), f"/api/v1/lists/{contact_list.pk}").status_code == 204
    assert not ContactList.objects.filter(pk=contact_list.pk).exists()
    assert AuditEvent.objects.filter(action="contact_list.delete").exists()


def test_a_template_in_use_is_refused_with_who_uses_it(api_for, mike):
    campaign = objects._campaign()
    refused = delete(api_for(mike), f"/api/v1/templates/{campaign.template_id}")
    assert refused.status_code == 409
    assert campaign.name in refused.json()["detail"]
    unused = objects._template().template
    mailbox = objects._mailbox()
    Mailbox.objects.filter(pk=mailbox.pk).update(ack_template=unused)
    refused = delete(api_for(mike), f"/api/v1/templates/{unused.pk}")
    assert refused.status_code == 409  # the mailbox's automatic answer would stop silently
    assert mailbox.name in refused.json()["reasons"][0]
    Mailbox.objects.filter(pk=mailbox.pk).update(ack_template=None)
    assert delete(api_for(mike), f"/api/v1/templates/{unused.pk}").status_code == 204
    assert not Template.objects.filter(pk=unused.pk).exists()


def test_only_a_draft_campaign_is_deleted(api_for, mike):
    campaign = objects._campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    refused = delete(api_for(mike), f"/api/v1/campaigns/{campaign.pk}")
    assert refused.status_code == 409
    assert "cancel it instead" in refused.json()["detail"]
    Campaign.objects.filter(pk=campaign.pk).update(status="draft")
    assert delete(api_for(mike), f"/api/v1/campaigns/{campaign.pk}").status_code == 204
    assert not Campaign.objects.filter(pk=campaign.pk).exists()


def test_a_mailbox_in_use_is_refused_and_an_unused_one_deleted(api_for, mike, personas):
    objects._conversation(personas)  # a conversation in the sandbox mailbox
    sandbox = objects._mailbox()
    refused = delete(api_for(mike), f"/api/v1/mailboxes/{sandbox.pk}")
    assert refused.status_code == 409
    assert any("conversations" in reason for reason in refused.json()["reasons"])
    spare = do_save_mailbox(
        ACTOR, None, {"name": "Spare", "from_address": "spare@herald.test", "smtp_host": "x"}
    )
    assert delete(api_for(mike), f"/api/v1/mailboxes/{spare.pk}").status_code == 204
    assert not Mailbox.objects.filter(pk=spare.pk).exists()
    assert delete(api_for(mike), f"/api/v1/mailboxes/{spare.pk}").status_code == 404


def test_the_pages_delete_or_say_why_not(client_for, mike):
    campaign = objects._campaign()
    client = client_for(mike)
    answer = client.post(f"/contacts/lists/{campaign.lists.get().pk}/delete/", follow=True)
    assert campaign.name in answer.content.decode()  # why it was refused, on the list's page
    assert ContactList.objects.filter(pk=campaign.lists.get().pk).exists()
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="delete"' in page  # a draft
    answer = client.post(f"/campaigns/{campaign.pk}/delete/", follow=True)
    assert answer.redirect_chain[-1][0] == "/campaigns/"
    assert not Campaign.objects.filter(pk=campaign.pk).exists()

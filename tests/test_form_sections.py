"""The long forms (mailbox, campaign) are shown in sections: each field appears exactly once (a
field left out of the page would be saved empty), the rare sections are folded unless a field in
them has an error, and a mailbox's OAuth settings show only for OAuth."""

from __future__ import annotations

import pytest

from herald.campaigns.forms import CampaignForm
from herald.campaigns.models import Campaign
from herald.mailboxes.forms import MailboxForm
from herald.mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db


def names(form) -> list[str]:
    return [field.name for _title, rows, _folded in form.sections() for field, _w, _v in rows]


def test_every_mailbox_field_is_in_one_section():
    mailbox = Mailbox(name="M", from_address="m@example.org", smtp_host="h")
    for name in ("smtp_password", "imap_password", "dkim_private_key", "oauth_client_secret"):
        setattr(mailbox, f"{name}_encrypted", "set")  # every "remove" box shows
    mailbox.pk = 1
    form = MailboxForm(instance=mailbox)
    assert sorted(names(form)) == sorted(form.fields)
    assert len(names(form)) == len(set(names(form)))


def test_every_campaign_field_is_in_one_section():
    form = CampaignForm(instance=Campaign())
    assert sorted(names(form)) == sorted(form.fields)
    assert len(names(form)) == len(set(names(form)))


def test_a_folded_section_opens_on_its_errors_and_oauth_fields_follow_the_login():
    form = MailboxForm(data={"max_per_second": "0"}, instance=Mailbox())
    form.is_valid()
    folded = {title: is_folded for title, _rows, is_folded in form.sections()}
    assert folded["Provider limits"] is False  # an error inside: open
    assert folded["DKIM signing"] is True
    rows = {f.name: (when, values) for _t, rs, _f in form.sections() for f, when, values in rs}
    assert rows["oauth_tenant"] == ("login_with", "microsoft")
    assert rows["smtp_password"] == ("login_with", "password")
    assert rows["smtp_host"] == ("", "")


def test_the_page_marks_the_conditional_fields(client_for, mike):
    page = client_for(mike).get("/mailboxes/new/").content.decode()
    assert 'data-when="login_with" data-is="microsoft"' in page
    assert '<details class="form-section"><summary>DKIM signing</summary>' in page

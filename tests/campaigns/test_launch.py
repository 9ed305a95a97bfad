"""Launching a campaign: one delivery per recipient address, chosen as the campaign says,
de-duplicated across lists and contacts, the ones that must not go skipped with their reason;
and cancelling it skips what was not sent."""

from __future__ import annotations

import pytest

from herald.campaigns import actions
from herald.campaigns.models import CampaignStatus, Delivery, Event
from herald.contacts.actions import do_add_suppression, do_create_list, do_upsert_contacts
from herald.contacts.models import Address, Contact, ListMember
from herald.mailboxes.models import Mailbox
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db

NO_MX = "nomx.example.org has no MX record and no address: it takes no mail."
BAD_SYNTAX = "not-an-address"
QUEUED = ("queued", "")
INVALID = ("skipped", f"invalid address: {NO_MX}")

EXPECTED = {
    "first": {
        "a@example.com": QUEUED,
        "b1@example.com": QUEUED,
        "c1@nomx.example.org": INVALID,
        "d1@nomx.example.org": INVALID,
        "e@blocked.example.net": ("skipped", "suppressed domain: manual"),
        "g@example.com": ("skipped", "suppressed: unsubscribed"),
    },
    "first_valid": {
        "a@example.com": QUEUED,
        "b1@example.com": QUEUED,
        "c2@example.com": QUEUED,
        "d1@nomx.example.org": INVALID,  # no valid address: its first, to show why it got nothing
        "e@blocked.example.net": ("skipped", "suppressed domain: manual"),
        "g@example.com": ("skipped", "suppressed: unsubscribed"),
    },
    "all": {
        "a@example.com": QUEUED,
        "b1@example.com": QUEUED,
        "b2@example.com": QUEUED,
        BAD_SYNTAX: ("skipped", "invalid address: "),  # + the validator's words
        "c1@nomx.example.org": INVALID,
        "c2@example.com": QUEUED,
        "d1@nomx.example.org": INVALID,
        "e@blocked.example.net": ("skipped", "suppressed domain: manual"),
        "g@example.com": ("skipped", "suppressed: unsubscribed"),
    },
}


def _lists():
    first = make_list(
        "First",
        [
            "a@example.com",
            ["b1@example.com", "b2@example.com", BAD_SYNTAX],
            ["c1@nomx.example.org", "c2@example.com"],
            ["d1@nomx.example.org"],
            ["e@blocked.example.net"],
            ["g@example.com", "G@EXAMPLE.COM"],
        ],
    )
    # The MX check found that nomx.example.org takes no mail.
    Address.objects.filter(email__endswith="@nomx.example.org").update(state="no_mx", error=NO_MX)
    do_add_suppression(ACTOR, "@blocked.example.net")
    do_add_suppression(ACTOR, "g@example.com", reason="unsubscribed")
    # Another list, with another contact of the same address (another external id) and a
    # contact of the first list again: each address once.
    second = do_create_list(ACTOR, name="Second")
    do_upsert_contacts(
        ACTOR,
        [{"external_id": "X-1", "first_name": "Other A", "emails": ["A@Example.com"]}],
        second,
    )
    b = Address.objects.get(email="b1@example.com").contact
    ListMember.objects.create(contact_list=second, contact=b)
    # A contact with no address at all (none can be imported, but one may lose its addresses).
    nobody = Contact.objects.create(first_name="Nobody")
    ListMember.objects.create(contact_list=second, contact=nobody)
    return first, second


@pytest.mark.parametrize("choice", ["first", "first_valid", "all"])
def test_a_launch_picks_each_address_once_and_skips_the_ones_that_must_not_go(
    smtp, make_campaign, choice
):
    campaign = make_campaign(list(_lists()), addresses=choice)
    actions.do_start_campaign(ACTOR, campaign)
    deliveries = Delivery.objects.filter(campaign=campaign)
    got = {d.email: (d.state, d.reason) for d in deliveries}
    expected = EXPECTED[choice]
    assert got.keys() == expected.keys()
    for email, (state, reason) in expected.items():
        assert got[email][0] == state, email
        assert got[email][1].startswith(reason) if email == BAD_SYNTAX else got[email][1] == reason
    # The lowest address wins a duplicate: the first list's contact, not the second's.
    a = deliveries.get(email="a@example.com")
    assert a.contact.first_name == "P0"
    assert not deliveries.filter(contact__first_name="Nobody").exists()
    skipped = {e for e, (s, _) in expected.items() if s == "skipped"}
    events = Event.objects.filter(campaign=campaign, kind="skipped")
    assert {e.delivery.email: e.detail for e in events} == {e: got[e][1] for e in skipped}
    launched = Event.objects.get(campaign=campaign, kind="launched").data
    assert launched == {
        "run": 1,
        "total": len(expected),
        "queued": len(expected) - len(skipped),
        "skipped": len(skipped),
    }

    drain().close()
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(
        e for e, (s, _) in expected.items() if s == "queued"
    )


@pytest.mark.parametrize("zone", ["contact", "account"])
def test_deliveries_carry_the_contact_time_zone_when_windows_follow_it(smtp, make_campaign, zone):
    tokyo = make_list("Tokyo", ["ann@example.com"], timezone="Asia/Tokyo")
    unknown = make_list("Unknown", ["bob@example.com"])  # none of its own: the account's
    campaign = make_campaign([tokyo, unknown], window_zone=zone)
    actions.do_start_campaign(ACTOR, campaign)
    tz = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "tz"))
    if zone == "contact":
        assert tz == {"ann@example.com": "Asia/Tokyo", "bob@example.com": ""}
    else:
        assert tz == {"ann@example.com": "", "bob@example.com": ""}


def test_cancelling_skips_every_delivery_not_sent_yet_and_sends_no_more(smtp, make_campaign):
    customers = make_list("Customers", [f"p{i}@example.com" for i in range(5)])
    campaign = make_campaign([customers])
    actions.do_start_campaign(ACTOR, campaign)
    sent = Delivery.objects.get(email="p0@example.com")
    sent.state = "sent"
    sent.save()
    actions.do_cancel_campaign(ACTOR, campaign)
    drain().close()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    states = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
    assert states == {
        "p0@example.com": "sent",
        **{f"p{i}@example.com": "skipped" for i in (1, 2, 3, 4)},
    }
    assert set(
        Delivery.objects.filter(campaign=campaign, state="skipped").values_list("reason", flat=True)
    ) == {"cancelled"}
    assert Event.objects.filter(campaign=campaign, kind="skipped", detail="cancelled").count() == 4
    assert Event.objects.get(campaign=campaign, kind="cancelled").data == {"skipped": 4}
    assert smtp.received == []


def test_contacts_missing_a_needed_value_are_skipped_as_the_help_says_not_blocking_the_start(
    make_campaign, smtp
):
    """The template help says a contact missing a value (no default) is skipped: the pre-start
    check says and does the same; only when nobody sampled could get it, it stops."""
    from herald.dialer.sender import Dialer

    people = make_list("Mixed", ["named@example.com", "anon@example.com"])
    Contact.objects.filter(addresses__email="anon@example.com").update(first_name="")
    campaign = make_campaign([people], html="<p>Dear ${first_name},</p>${unsubscribe_url}")
    assert actions.preflight(campaign, check_connection=False) == []
    actions.do_start_campaign(ACTOR, campaign)
    drain(Dialer()).close()
    assert [m.rcpt_tos for m in smtp.received] == [["named@example.com"]]
    skipped = Delivery.objects.get(email="anon@example.com")
    assert skipped.state == "skipped"
    assert "first_name" in skipped.reason

    nobody = make_list("Anonymous", ["x@example.com"])
    Contact.objects.filter(addresses__email="x@example.com").update(first_name="")
    stopped = make_campaign(
        [nobody], html="<p>Dear ${first_name},</p>${unsubscribe_url}", name="Nobody named"
    )
    (problem,) = actions.preflight(stopped, check_connection=False)
    assert "all would be skipped" in problem
    assert "${first_name|…}" in problem


def test_a_real_mailbox_with_links_to_this_machine_is_stopped_before_the_start(
    make_campaign, mailbox, settings
):
    """Sending through a real server with links to 127.0.0.1 would give every recipient broken
    unsubscribe and tracking links: the pre-start check says what to set."""
    campaign = make_campaign([make_list("People", ["p@example.com"])])
    settings.BASE_URL = "http://127.0.0.1:8123"
    assert actions.preflight(campaign, check_connection=False) == []  # its server is local too
    Mailbox.objects.filter(pk=mailbox.pk).update(smtp_host="smtp.example.com")
    campaign.refresh_from_db()
    (problem,) = actions.preflight(campaign, check_connection=False)
    assert "http://127.0.0.1:8123" in problem
    assert "HERALD_BASE_URL" in problem
    settings.BASE_URL = "https://herald.example.com"
    assert actions.preflight(campaign, check_connection=False) == []

"""Campaign pages as a manager uses them: the form (with its live recipient count), the detail
page with its lifecycle buttons, progress, skip reasons, events and expected end."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from herald.accounts.models import Account
from herald.campaigns import actions, queries, windows
from herald.campaigns.models import Campaign, CampaignStatus, Delivery, Event
from herald.contacts.models import Address, Suppression
from herald.messaging.actions import do_save_template
from tests.campaigns.conftest import ACTOR, HTML, drain, make_list

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    """The page as a reader sees it: tags dropped, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def _buttons(response) -> list[str]:
    """The lifecycle buttons the page offers, by the action their form posts to."""
    return re.findall(
        r'action="/campaigns/\d+/(start|pause|resume|cancel)/"', response.content.decode()
    )


def _template(name: str = "Offer", html: str = HTML):
    return do_save_template(ACTOR, None, name=name, subject="Hi ${first_name|}", html=html).template


def _form(mailbox, template, lists, **extra) -> dict:
    data = {
        "name": "Spring offer",
        "mailbox": mailbox.pk,
        "template": template.pk,
        "lists": [contact_list.pk for contact_list in lists],
        "addresses": "first_valid",
        "enabled": "on",
        "start_mode": "manual",
        "window_zone": "account",
        "rate_unit": "second",
        "warmup_growth_percent": "0",
        "failure_percent": "20",
        "failure_window": "200",
        "max_retry_hours": "72",
    }
    data.update(extra)
    return data


def test_a_manager_creates_a_campaign_with_windows_and_a_status_mapping(mike, client_for, mailbox):
    customers = make_list("Customers", ["ann@example.com", "bob@example.com"])
    template = _template()
    client = client_for(mike)
    assert "Campaigns" in _text(client.get("/"))
    blank = client.get("/campaigns/new/").content.decode()
    assert re.search(r'<input type="text" name="windows" [^>]*>', blank)
    assert 'name="windows" value' not in blank  # empty: any time
    response = client.post(
        "/campaigns/new/",
        _form(
            mailbox,
            template,
            [customers],
            windows="Mon-Fri 13:00-18:00",
            rate_count="10",
            rate_unit="minute",
            status_sent="mailed",
            status_bounced="bad address",
        ),
    )
    campaign = Campaign.objects.get(name="Spring offer")
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.windows == [{"days": [0, 1, 2, 3, 4], "start": "13:00", "end": "18:00"}]
    assert campaign.status_map == {"sent": "mailed", "bounced": "bad address"}
    assert list(campaign.lists.all()) == [customers]

    page = _text(client.get(f"/campaigns/{campaign.pk}/"))
    assert "Campaign Spring offer saved." in page
    assert "Status: draft" in page
    assert "Not started yet." in page
    assert "Mon-Fri 13:00-18:00" in page
    assert "10 messages per minute" in page
    assert "sent “mailed”" in page
    assert "Customers" in page
    assert "Offers" in page

    # The edit form shows the windows back as text, and the mapping per outcome.
    edit = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'value="Mon-Fri 13:00-18:00"' in edit
    assert 'value="mailed"' in edit
    listing = _text(client.get("/campaigns/"))
    assert "Spring offer draft Offers not launched · 1 list" in listing


def test_windows_the_form_cannot_read_are_shown_next_to_the_field(mike, client_for, mailbox):
    customers = make_list("Customers", ["ann@example.com"])
    response = client_for(mike).post(
        "/campaigns/new/", _form(mailbox, _template(), [customers], windows="Mon-Fri 18:00-13:00")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["windows"]
    assert errors
    assert errors[0] in _text(response)
    assert not Campaign.objects.exists()


def test_a_date_and_time_start_is_read_and_shown_in_the_accounts_time_zone(
    mike, client_for, mailbox
):
    account = Account.load()
    account.timezone = "Europe/Rome"
    account.save()
    customers = make_list("Customers", ["ann@example.com"])
    client = client_for(mike)
    client.post(
        "/campaigns/new/",
        _form(mailbox, _template(), [customers], start_mode="at", start_at="2030-05-02T09:00"),
    )
    campaign = Campaign.objects.get()
    assert campaign.start_at == dt.datetime(2030, 5, 2, 7, 0, tzinfo=dt.UTC)  # 09:00 in Rome
    response = client.post(f"/campaigns/{campaign.pk}/start/", follow=True)
    page = _text(response)
    assert "Campaign Spring offer scheduled." in page
    assert "Status: scheduled" in page
    assert "Starts at 2030-05-02 09:00." in page
    assert _buttons(response) == ["pause", "cancel"]


def test_the_live_count_shows_deduplicated_recipients_and_those_that_will_be_skipped(
    mike, client_for
):
    first = make_list("A", ["ann@example.com", "bob@example.com", ["cy@example.com", "cy2@x.org"]])
    second = make_list("B", ["ANN@example.com", "dee@example.com", "eve@example.com"])
    Suppression.objects.create(value="bob@example.com", reason="unsubscribed", source="user")
    Address.objects.filter(email="eve@example.com").update(state="no_mx", error="no MX")
    client = client_for(mike)

    def count(*lists, addresses="first_valid") -> str:
        query = "&".join(f"lists={contact_list.pk}" for contact_list in lists)
        return _text(client.get(f"/campaigns/recipients/?{query}&addresses={addresses}")).strip()

    # ann once across both lists; bob suppressed; eve's domain takes no mail.
    assert count(first, second) == "3 recipients (5 distinct addresses, 1 suppressed, 1 invalid)"
    assert count(first) == "2 recipients (3 distinct addresses, 1 suppressed)"
    assert count(first, addresses="all") == "3 recipients (4 distinct addresses, 1 suppressed)"
    assert count(second) == "2 recipients (3 distinct addresses, 1 invalid)"
    assert "Choose one or more lists" in count()


def test_the_live_count_is_what_the_launch_writes(mike, client_for, make_campaign):
    first = make_list("A", ["ann@example.com", "bob@example.com", ["cy@example.com", "cy2@x.org"]])
    second = make_list("B", ["ANN@example.com", "dee@example.com"])
    Suppression.objects.create(value="x.org", is_domain=True, reason="complaint", source="user")
    for choice in ("first", "first_valid", "all"):
        count = queries.recipient_count([first.pk, second.pk], choice)
        campaign = make_campaign([first, second], name=f"Count {choice}", addresses=choice)
        actions.do_start_campaign(ACTOR, campaign)
        deliveries = Delivery.objects.filter(campaign=campaign)
        assert count.addresses == deliveries.count()
        assert count.to_send == deliveries.filter(state="queued").count()
        assert count.suppressed == deliveries.filter(reason__startswith="suppressed").count()


def test_a_start_refused_by_the_preflight_check_lists_the_problems(mike, client_for, make_campaign):
    empty = make_list("Nobody", [])
    campaign = make_campaign([empty], html="<p>Hello ${first_name|there}</p>")
    response = client_for(mike).post(f"/campaigns/{campaign.pk}/start/")
    assert response.status_code == 200
    page = _text(response)
    assert "The campaign cannot start yet:" in page
    assert "The campaign's lists are empty." in page
    assert "The template has no unsubscribe link: add ${unsubscribe_url}" in page
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_start_pause_resume_and_watch_the_progress_to_completed(
    mike, client_for, make_campaign, smtp
):
    Suppression.objects.create(value="bob@example.com", reason="unsubscribed", source="user")
    customers = make_list("Customers", ["ann@example.com", "bob@example.com", "cy@example.com"])
    campaign = make_campaign([customers])
    client = client_for(mike)
    detail = f"/campaigns/{campaign.pk}/"

    assert _buttons(client.get(detail)) == ["start", "cancel"]
    page = _text(client.post(f"{detail}start/", follow=True))
    assert "Campaign Spring offer started." in page
    assert "Status: running" in page
    assert "Total 3 To send 2 Sent 0" in page
    assert "on the suppression list: unsubscribed: 1" in page

    response = client.post(f"{detail}pause/", follow=True)
    page = _text(response)
    assert "Status: paused" in page
    assert f"paused by {mike.email}" in page
    assert "Paused: nothing is sent until it is resumed." in page
    assert _buttons(response) == ["resume", "cancel"]

    client.post(f"{detail}resume/")
    drain().close()
    live = client.get(f"{detail}live/")
    page = _text(live)
    assert "Status: completed" in page
    assert "Total 3 To send 0 Sent 2 Deferred (retried later) 0 Failed 0 Skipped 1" in page
    assert "hx-trigger" not in live.content.decode()  # finished: the panel stops refreshing
    events = page[page.index("Recent events") :]
    assert "completed" in events
    assert "sent ann@example.com 250" in events
    assert "skipped bob@example.com on the suppression list: unsubscribed" in events
    assert len(smtp.received) == 2
    listing = _text(client.get("/campaigns/"))
    assert "Spring offer completed Offers 2 sent of 3 · 0 to send · 1 skipped" in listing
    # A finished campaign's settings cannot change any more.
    response = client.get(f"{detail}edit/", follow=True)
    assert "A completed campaign cannot be changed any more." in _text(response)
    # Its statistics stay one click away.
    done = client.get(detail).content.decode()
    stats = re.search(r'href="([^"]+)" data-testid="stats-link"', done)
    assert stats is not None
    assert client.get(html.unescape(stats.group(1))).status_code == 200


def test_cancel_skips_what_was_not_sent_and_says_why(mike, client_for, make_campaign):
    customers = make_list("Customers", ["ann@example.com", "bob@example.com"])
    campaign = make_campaign([customers])
    actions.do_start_campaign(ACTOR, campaign)
    response = client_for(mike).post(f"/campaigns/{campaign.pk}/cancel/", follow=True)
    page = _text(response)
    assert "Campaign Spring offer cancelled." in page
    assert "Status: cancelled" in page
    assert "cancelled: 2" in page
    assert _buttons(response) == []


def test_an_auto_paused_campaign_shows_why(mike, client_for, make_campaign):
    customers = make_list("Customers", ["ann@example.com"])
    campaign = make_campaign([customers])
    actions.do_start_campaign(ACTOR, campaign)
    actions.auto_pause(campaign.pk, "25 % of the last 200 attempts failed")
    page = _text(client_for(mike).get(f"/campaigns/{campaign.pk}/"))
    assert "Status: paused · 25 % of the last 200 attempts failed" in page


def test_the_expected_end_follows_the_pace(make_campaign):
    customers = make_list("Customers", ["ann@example.com", "bob@example.com", "cy@example.com"])
    campaign = make_campaign([customers], rate_count=1, rate_unit="minute")
    campaign = actions.do_start_campaign(ACTOR, campaign)
    now = timezone.now()
    outlook = queries.outlook(campaign, queries.progress(campaign.pk), now)
    assert outlook.state == "sending"
    assert outlook.eta == now + dt.timedelta(minutes=3)


def test_the_mailbox_limit_slows_the_expected_end(make_campaign, mailbox):
    mailbox.max_per_hour = 60
    mailbox.save()
    customers = make_list("Customers", ["ann@example.com", "bob@example.com"])
    campaign = make_campaign([customers], rate_count=10, rate_unit="second")
    campaign = actions.do_start_campaign(ACTOR, campaign)
    now = timezone.now()
    outlook = queries.outlook(campaign, queries.progress(campaign.pk), now)
    assert outlook.eta == now + dt.timedelta(minutes=2)


def test_outside_its_window_a_running_campaign_says_when_it_resumes(
    mike, client_for, make_campaign, monkeypatch
):
    customers = make_list("Customers", ["ann@example.com"])
    campaign = make_campaign([customers], windows=[{"days": [0], "start": "09:00", "end": "10:00"}])
    actions.do_start_campaign(ACTOR, campaign)
    opens = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(windows, "is_open", lambda schedule, now, tz: False)
    monkeypatch.setattr(windows, "next_open", lambda schedule, now, tz: opens)
    page = _text(client_for(mike).get(f"/campaigns/{campaign.pk}/"))
    assert "Waiting for the send window, which opens at 2030-01-07 09:00." in page


def test_an_unpaced_campaign_is_estimated_at_the_pace_of_its_last_minute(make_campaign):
    customers = make_list("Customers", ["ann@example.com", "bob@example.com", "cy@example.com"])
    campaign = actions.do_start_campaign(ACTOR, make_campaign([customers]))
    now = timezone.now()
    outlook = queries.outlook(campaign, queries.progress(campaign.pk), now)
    assert (outlook.state, outlook.eta) == ("sending", None)  # nothing sent yet: no pace known
    Event.objects.bulk_create(
        [Event(campaign=campaign, kind="sent", at=now - dt.timedelta(seconds=s)) for s in range(6)]
    )
    outlook = queries.outlook(campaign, queries.progress(campaign.pk), now)
    assert outlook.per_second == pytest.approx(0.1)
    assert outlook.eta == now + dt.timedelta(seconds=30)


def test_saving_the_campaign_form_unchanged_changes_nothing(mike, client_for, make_campaign):
    from tests.forms import submitted

    optout = _template("Opt-out confirmation")
    campaign = make_campaign(
        [make_list("People", ["ann@example.com"])],
        track_opens=True,
        track_clicks=False,
        optout_template=optout,
        thank_you_text="Thanks for rating us!",
        windows=[{"days": [0, 1], "start": "09:00", "end": "12:00"}],
        rate_count=30,
        rate_unit="minute",
        status_map={"sent": "mailed"},
    )
    before = actions._audited(campaign)
    client = client_for(mike)
    url = f"/campaigns/{campaign.pk}/edit/"
    form = submitted(client.get(url).content.decode(), having="name")
    assert "track_opens" in form  # shown, checked
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert actions._audited(campaign) == before
    assert campaign.track_opens
    assert not campaign.track_clicks


def test_the_list_and_the_page_of_a_completed_campaign_show_its_rates(
    mike, client_for, make_campaign, smtp
):
    from herald.conversations import actions as desk
    from herald.tracking.models import Tally

    emails = ["ann@example.com", "bob@example.com", "cy@example.com", "di@example.com"]
    campaign = make_campaign([make_list("Customers", emails)])
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    Tally.objects.create(campaign=campaign, hour=hour, name="opened:unique", n=2)
    Tally.objects.create(campaign=campaign, hour=hour, name="clicked:unique", n=1)
    delivery = Delivery.objects.get(email="ann@example.com")
    contact = delivery.contact
    desk.open_conversation(
        campaign.mailbox, contact, subject="Re: offer", at=timezone.now(), delivery=delivery
    )

    client = client_for(mike)
    expected = "4 sent · read 50.0 % (2) · clicked 25.0 % (1) · replied 25.0 % (1)"
    for path in ("/campaigns/", f"/campaigns/{campaign.pk}/"):
        page = _text(client.get(path))
        assert expected in page, path
        assert f'href="/campaigns/{campaign.pk}/stats/"' in client.get(path).content.decode()

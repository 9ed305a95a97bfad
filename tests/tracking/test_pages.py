"""The supervisors' pages: a campaign's statistics (with who opened and who clicked, and their
CSV) and the dashboard of running campaigns with its pause and resume buttons."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from herald.campaigns.models import CampaignStatus, Delivery
from herald.tracking import recording

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


@pytest.fixture
def engaged(send_campaign):
    """Ann read and clicked, Bob's copy was only opened by Apple's proxy, Cy did nothing."""
    sent = send_campaign(status_map={"opened": "read", "clicked": "clicked"})
    Delivery.objects.filter(campaign=sent.campaign).update(
        sent_at=sent.delivery("ann@example.com").sent_at - dt.timedelta(hours=1)
    )
    recording.forget()
    person = Client(HTTP_USER_AGENT=BROWSER)
    person.get(sent.pixel("ann@example.com"))
    person.get(sent.path("ann@example.com", "/c/", 0))
    Client(HTTP_USER_AGENT="Mozilla/5.0").get(sent.pixel("bob@example.com"))
    return sent


def test_the_statistics_page_counts_readers_clickers_and_links(engaged, client_for, mike):
    page = client_for(mike).get(f"/campaigns/{engaged.campaign.pk}/stats/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="count-sent">3<' in html
    assert 'data-testid="count-read">1<' in html
    assert 'data-testid="count-opened-machine">1<' in html
    assert 'data-testid="count-clicked">1<' in html
    assert 'data-testid="link-0-clicks">1<' in html
    assert 'data-testid="link-1-clicks">0<' in html
    assert "<svg" in html  # the timeline
    assert 'hx-trigger="every 3s"' in html  # it refreshes itself


def test_who_opened_is_filterable_by_people_and_machines(engaged, client_for, mike):
    client = client_for(mike)
    url = f"/campaigns/{engaged.campaign.pk}/stats/"
    everyone = client.get(url, {"what": "opened"}).content.decode()
    assert "ann@example.com" in everyone
    assert "bob@example.com" in everyone
    people = client.get(url, {"what": "opened", "who": "human"}).content.decode()
    assert "ann@example.com" in people
    assert "bob@example.com" not in people
    machines = client.get(url, {"what": "opened", "who": "machine"}).content.decode()
    assert "bob@example.com" in machines
    assert "ann@example.com" not in machines
    searched = client.get(url, {"what": "opened", "q": "bob"}).content.decode()
    assert "bob@example.com" in searched
    assert "ann@example.com" not in searched
    clicked = client.get(url, {"what": "clicked"}).content.decode()
    assert "ann@example.com" in clicked
    assert "bob@example.com" not in clicked


def test_who_clicked_is_exported_as_csv(engaged, client_for, mike):
    response = client_for(mike).get(
        f"/campaigns/{engaged.campaign.pk}/stats/people.csv", {"what": "opened"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_email = {r["email"]: r for r in rows}
    assert set(by_email) == {"ann@example.com", "bob@example.com"}
    assert by_email["ann@example.com"]["opens"] == "1"
    assert by_email["ann@example.com"]["links"] == "0"
    assert by_email["bob@example.com"]["machine_opens"] == "1"
    assert by_email["bob@example.com"]["read_at"] == ""


def test_first_opens_and_clicks_set_the_mapped_list_status(engaged):
    from herald.contacts.models import ListMember

    statuses = {
        m.contact.addresses.first().email: m.status
        for m in ListMember.objects.select_related("contact")
    }
    assert statuses == {"ann@example.com": "clicked", "bob@example.com": "", "cy@example.com": ""}


def test_the_statistics_are_for_managers(engaged, client_for, alice):
    assert client_for(alice).get(f"/campaigns/{engaged.campaign.pk}/stats/").status_code == 403


def test_the_dashboard_shows_a_running_campaign_and_pauses_and_resumes_it(
    send_campaign, client_for, mike
):
    sent = send_campaign()
    campaign = sent.campaign
    campaign.status = CampaignStatus.RUNNING  # as if still sending
    campaign.save(update_fields=["status"])
    client = client_for(mike)
    page = client.get("/dashboard/").content.decode()
    assert f'data-testid="campaign-{campaign.pk}"' in page
    assert "3 / 3" in page  # progress
    assert f'data-testid="pause-{campaign.pk}"' in page
    response = client.post(f"/dashboard/{campaign.pk}/pause/")
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    page = client.get("/dashboard/live/").content.decode()
    assert f'data-testid="resume-{campaign.pk}"' in page
    client.post(f"/dashboard/{campaign.pk}/resume/")
    campaign.refresh_from_db()
    assert campaign.status in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED)


def test_a_completed_campaign_is_not_on_the_dashboard(send_campaign, client_for, mike):
    sent = send_campaign()
    assert sent.campaign.status == CampaignStatus.COMPLETED
    page = client_for(mike).get("/dashboard/").content.decode()
    assert f'data-testid="campaign-{sent.campaign.pk}"' not in page


def test_the_dashboard_shows_the_last_error(send_campaign, client_for, mike):
    from herald.campaigns.models import Event

    sent = send_campaign()
    sent.campaign.status = CampaignStatus.PAUSED
    sent.campaign.save(update_fields=["status"])
    Event.objects.create(
        campaign=sent.campaign, kind="deferred", detail="451 4.7.1 Try again later"
    )
    page = client_for(mike).get("/dashboard/").content.decode()
    assert "451 4.7.1 Try again later" in page


def test_a_reply_counts_as_replied_in_the_statistics(engaged, client_for, mike):
    from herald.campaigns.models import Event, EventKind

    delivery = engaged.delivery("cy@example.com")
    # What inbound processing writes for a reply to this delivery.
    Event.objects.create(campaign=engaged.campaign, delivery=delivery, kind=EventKind.REPLIED)
    html = client_for(mike).get(f"/campaigns/{engaged.campaign.pk}/stats/").content.decode()
    assert 'data-testid="count-replied">1<' in html


def test_the_api_gives_the_statistics_the_people_and_the_deliveries(engaged, api_for, mike, alice):
    client = api_for(mike)
    campaign_id = engaged.campaign.pk
    figures = client.get(f"/api/v1/campaigns/{campaign_id}/statistics").json()
    assert (figures["sent"], figures["read"], figures["clicked"]) == (3, 1, 1)
    assert figures["read_by_machines_only"] == 1
    assert [link["clicks"] for link in figures["links"]][:2] == [1, 0]
    assert sum(point["sent"] for point in figures["timeline"]) == 3
    people = client.get(
        f"/api/v1/campaigns/{campaign_id}/people", {"what": "opened", "who": "human"}
    ).json()
    assert [p["email"] for p in people["people"]] == ["ann@example.com"]
    first = client.get(f"/api/v1/campaigns/{campaign_id}/deliveries", {"limit": 2}).json()
    rest = client.get(
        f"/api/v1/campaigns/{campaign_id}/deliveries", {"after": first[-1]["id"]}
    ).json()
    emails = sorted(d["email"] for d in first + rest)
    assert emails == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert all(d["state"] == "sent" and d["attempts"] >= 1 for d in first + rest)
    agent = api_for(alice).get(f"/api/v1/campaigns/{campaign_id}/statistics")
    assert agent.status_code == 403

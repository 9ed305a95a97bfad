"""The campaigns API as an integrator drives it: create, change, start (refused with the
pre-flight problems, then accepted), follow the progress, pause, resume, cancel."""

from __future__ import annotations

import pytest

from herald.messaging.actions import do_save_template
from tests.campaigns.conftest import ACTOR, HTML, drain, make_list

pytestmark = pytest.mark.django_db


def _template(html: str = HTML) -> int:
    return do_save_template(ACTOR, None, name="Offer", subject="Hi", html=html).template.pk


def test_an_integrator_creates_starts_and_follows_a_campaign(mike, api_for, mailbox, smtp):
    customers = make_list("Customers", ["ann@example.com", "bob@example.com"])
    client = api_for(mike)
    created = client.post(
        "/api/v1/campaigns",
        {
            "name": "Spring offer",
            "mailbox_id": mailbox.pk,
            "template_id": _template(),
            "list_ids": [customers.pk],
            "windows": "Mon-Fri 13:00-18:00",
            "status_map": {"sent": "mailed"},
            "rate_count": 5,
            "rate_unit": "minute",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft"
    assert body["list_ids"] == [customers.pk]
    assert body["windows"] == [{"days": [0, 1, 2, 3, 4], "start": "13:00", "end": "18:00"}]
    assert body["windows_text"] == "Mon-Fri 13:00-18:00"
    assert body["status_map"] == {"sent": "mailed"}
    url = f"/api/v1/campaigns/{body['id']}"

    changed = client.patch(
        url, {"windows": "", "rate_count": None}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert (changed.json()["windows"], changed.json()["rate_count"]) == ([], None)
    assert changed.json()["rate_unit"] == "minute"  # not sent: kept

    started = client.post(f"{url}/start")
    assert started.status_code == 200
    assert started.json()["status"] == "running"
    assert started.json()["progress"]["counts"]["to_send"] == 2

    paused = client.post(f"{url}/pause", {"reason": "hold on"}, content_type="application/json")
    assert (paused.json()["status"], paused.json()["status_reason"]) == ("paused", "hold on")
    assert client.post(f"{url}/resume").json()["status"] == "running"
    drain().close()

    progress = client.get(f"{url}/progress").json()
    assert progress["status"] == "completed"
    assert progress["counts"]["sent"] == 2
    assert progress["outlook"] == "finished"
    got = client.get(url).json()
    assert got["progress"]["counts"]["total"] == 2
    assert got["finished_at"] is not None
    assert [c["name"] for c in client.get("/api/v1/campaigns").json()] == ["Spring offer"]

    refused = client.patch(url, {"subject": "Too late"}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["detail"] == ["A completed campaign cannot be changed any more."]


def test_a_start_refused_by_the_preflight_check_answers_422_with_the_problems(
    mike, api_for, make_campaign
):
    campaign = make_campaign([make_list("Nobody", [])], html="<p>Hi</p>")
    response = api_for(mike).post(f"/api/v1/campaigns/{campaign.pk}/start")
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert "The campaign's lists are empty." in problems
    assert any(p.startswith("The template has no unsubscribe link") for p in problems)
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_cancel_through_the_api_skips_the_rest(mike, api_for, make_campaign):
    campaign = make_campaign([make_list("Customers", ["ann@example.com", "bob@example.com"])])
    client = api_for(mike)
    client.post(f"/api/v1/campaigns/{campaign.pk}/start")
    cancelled = client.post(f"/api/v1/campaigns/{campaign.pk}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["skipped_reasons"] == {"cancelled": 2}


def test_bad_input_is_refused_by_field(mike, api_for, mailbox):
    client = api_for(mike)
    missing = client.post("/api/v1/campaigns", {"name": "X"}, content_type="application/json")
    assert missing.status_code == 422
    assert set(missing.json()["detail"]) == {"mailbox_id", "template_id"}
    bad = client.post(
        "/api/v1/campaigns",
        {
            "name": "X",
            "mailbox_id": mailbox.pk,
            "template_id": _template(),
            "windows": "Mon-Fri 18:00-13:00",
        },
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert list(bad.json()["detail"]) == ["windows"]
    unknown_list = client.post(
        "/api/v1/campaigns",
        {"name": "X", "mailbox_id": mailbox.pk, "template_id": _template(), "list_ids": [999]},
        content_type="application/json",
    )
    assert unknown_list.json()["detail"] == {"list_ids": ["no contact list with id 999"]}


def test_tracking_and_the_opt_out_email_are_set_by_the_api_and_an_unknown_field_is_refused(
    mike, api_for, mailbox
):
    client = api_for(mike)
    optout = do_save_template(ACTOR, None, name="Bye", subject="Bye", html="<p>Bye</p>").template
    created = client.post(
        "/api/v1/campaigns",
        {
            "name": "Quiet",
            "mailbox_id": mailbox.pk,
            "template_id": _template(),
            "track_opens": False,
            "optout_template_id": optout.pk,
            "thank_you_text": "Merci !",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["track_opens"], body["track_clicks"]) == (False, True)
    assert (body["optout_template_id"], body["thank_you_text"]) == (optout.pk, "Merci !")
    url = f"/api/v1/campaigns/{body['id']}"
    assert client.get("/api/v1/campaigns").status_code == 200  # was a 500 with an opt-out email

    typo = client.patch(url, {"track_open": True}, content_type="application/json")
    assert typo.status_code == 422
    assert "track_open" in str(typo.json())
    unchanged = client.patch(url, {"name": "Quiet"}, content_type="application/json").json()
    assert (unchanged["track_opens"], unchanged["optout_template_id"]) == (False, optout.pk)
    missing = client.patch(url, {"optout_template_id": 99999}, content_type="application/json")
    assert missing.status_code == 422
    cleared = client.patch(url, {"optout_template_id": None}, content_type="application/json")
    assert cleared.json()["optout_template_id"] is None

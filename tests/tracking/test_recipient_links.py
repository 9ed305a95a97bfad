"""What recipients get from the links in a sent message: the pixel, tracked clicks, one-click
unsubscribe, ratings and the message in the browser — and what a forged link gets."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from herald.accounts.models import Account
from herald.campaigns import tokens
from herald.campaigns.models import Campaign, Delivery, Event
from herald.contacts.models import ListMember, Suppression
from herald.tracking.models import Engagement
from herald.tracking.pixel import GIF
from tests.tracking.conftest import ACTOR

pytestmark = pytest.mark.django_db

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def person(**extra) -> Client:
    return Client(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.77", **extra)


def _later(sent, address, seconds=600):
    """Makes the message look delivered ``seconds`` ago (nobody reads mail on arrival)."""
    import datetime as dt

    delivery = sent.delivery(address)
    Delivery.objects.filter(pk=delivery.pk).update(
        sent_at=delivery.sent_at - dt.timedelta(seconds=seconds)
    )
    from herald.tracking import recording

    recording.forget()


def test_a_sent_message_carries_the_pixel_and_tracked_links_in_both_parts(send_campaign):
    sent = send_campaign()
    delivery = sent.delivery("ann@example.com")
    token = tokens.reply_token(delivery.pk)
    assert sent.pixel("ann@example.com") == f"/o/{token}.gif"
    tracked = [u for u in sent.links("ann@example.com") if "/c/" in u]
    assert tracked == [f"{settings.BASE_URL}/c/{token}/{n}" for n in range(3)]
    assert "https://example.com/offer" not in sent.html("ann@example.com")
    assert f"{settings.BASE_URL}/c/{token}/0" in sent.text("ann@example.com")
    # System links and mailto: are never rewritten.
    assert "mailto:help@example.com" in sent.links("ann@example.com")
    assert f"{settings.BASE_URL}/u/{token}" in sent.links("ann@example.com")


def test_an_open_is_recorded_with_its_time_user_agent_and_anonymized_address(send_campaign):
    sent = send_campaign()
    _later(sent, "ann@example.com")
    response = person().get(sent.pixel("ann@example.com"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == GIF
    assert "no-store" in response["Cache-Control"]
    event = Event.objects.get(kind="opened")
    assert event.delivery_id == sent.delivery("ann@example.com").pk
    assert event.data["ua"] == BROWSER
    assert event.data["ip"] == "203.0.113.0"
    assert event.data["machine"] is False
    assert Engagement.objects.get(pk=event.delivery_id).read_at == event.at


def test_the_full_address_is_kept_when_the_account_does_not_anonymize(send_campaign):
    Account.objects.filter(pk=Account.load().pk).update(anonymize_ips=False)
    sent = send_campaign()
    person().get(sent.pixel("ann@example.com"))
    assert Event.objects.get(kind="opened").data["ip"] == "203.0.113.77"


def test_every_open_is_recorded_and_apple_mpp_is_a_machine_open(send_campaign):
    sent = send_campaign()
    _later(sent, "ann@example.com")
    pixel = sent.pixel("ann@example.com")
    Client(HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="172.224.226.9").get(pixel)
    person().get(pixel)
    person().get(pixel)
    opens = list(Event.objects.filter(kind="opened").order_by("pk"))
    assert [e.data["machine"] for e in opens] == [True, False, False]
    assert opens[0].data["why"] == "apple-mpp"
    engagement = Engagement.objects.get(pk=sent.delivery("ann@example.com").pk)
    assert (engagement.machine_opens, engagement.opens) == (1, 2)


def test_a_tampered_or_unknown_token_gets_404_and_records_nothing(send_campaign):
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    unknown = tokens.reply_token(10**9)  # well signed, but no such delivery
    client = person()
    for path in (
        f"/o/{flipped}.gif",
        f"/c/{flipped}/0",
        f"/u/{flipped}",
        f"/r/{flipped}/5",
        f"/v/{flipped}",
        f"/o/{unknown}.gif",
        f"/c/{unknown}/0",
        f"/u/{unknown}",
        "/o/short.gif",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/u/{flipped}", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert not Event.objects.filter(kind__in=["opened", "clicked", "unsubscribed", "rated"])
    assert not Suppression.objects.exists()


def test_links_of_a_deleted_campaign_answer_404(send_campaign):
    sent = send_campaign()
    pixel, click = sent.pixel("ann@example.com"), sent.path("ann@example.com", "/c/")
    Campaign.objects.filter(pk=sent.campaign.pk).delete()
    assert person().get(pixel).status_code == 404
    assert person().get(click).status_code == 404


def test_a_click_goes_only_where_the_message_pointed(send_campaign):
    sent = send_campaign()
    _later(sent, "ann@example.com")
    client = person()
    offer = client.get(sent.path("ann@example.com", "/c/", 0))
    terms = client.get(sent.path("ann@example.com", "/c/", 1))
    assert (offer.status_code, offer["Location"]) == (302, "https://example.com/offer")
    assert terms["Location"] == "https://example.com/terms?a=1&b=2"
    clicks = list(Event.objects.filter(kind="clicked").order_by("pk"))
    assert [(e.data["link"], e.data["url"]) for e in clicks] == [
        (0, "https://example.com/offer"),
        (1, "https://example.com/terms?a=1&b=2"),
    ]


def test_open_redirect_attempts_get_404_or_the_messages_own_link(send_campaign):
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    client = person()
    # Whatever is added to a real link, it goes where the message pointed.
    for path in (
        f"/c/{token}/0?url=https://evil.example/",
        f"/c/{token}/0?next=//evil.example",
    ):
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, "https://example.com/offer")
    # Anything else is not a link of ours.
    for path in (
        f"/c/{token}/3",  # the mailto: link is not tracked
        f"/c/{token}/99",
        f"/c/{token}/-1",
        f"/c/{token}/0/https://evil.example",
        f"/c/{token}/https://evil.example",
        f"/c/{token}/0%2F%2Fevil.example",
        f"/c/{token}//evil.example",
        f"/c/{token}",
    ):
        assert client.get(path).status_code == 404, path
    urls = {e.data["url"] for e in Event.objects.filter(kind="clicked")}
    assert urls == {"https://example.com/offer"}


def test_a_link_built_from_the_recipients_variables_goes_to_that_recipients_url(send_campaign):
    sent = send_campaign()
    ann = person().get(sent.path("ann@example.com", "/c/", 2))
    bob = person().get(sent.path("bob@example.com", "/c/", 2))
    assert ann["Location"] == "https://example.com/me?id=C1"
    assert bob["Location"] == "https://example.com/me?id=C2"


def test_the_text_part_link_leads_to_the_same_place(send_campaign):
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("bob@example.com").pk)
    text_link = f"{settings.BASE_URL}/c/{token}/1"
    assert text_link in sent.text("bob@example.com")
    response = person().get(text_link[len(settings.BASE_URL) :])
    assert response["Location"] == "https://example.com/terms?a=1&b=2"


def test_with_tracking_off_messages_keep_plain_links_and_no_pixel(send_campaign):
    sent = send_campaign(track_opens=False, track_clicks=False)
    html = sent.html("ann@example.com")
    assert "/o/" not in html
    assert "/c/" not in html
    assert "https://example.com/offer" in sent.links("ann@example.com")


def test_turning_tracking_off_stops_recording_links_already_sent(send_campaign):
    sent = send_campaign()
    pixel, click = sent.pixel("ann@example.com"), sent.path("ann@example.com", "/c/")
    Campaign.objects.filter(pk=sent.campaign.pk).update(track_opens=False, track_clicks=False)
    from herald.tracking import recording

    recording.forget()
    assert person().get(pixel).status_code == 200
    assert person().get(click)["Location"] == "https://example.com/offer"
    assert not Event.objects.filter(kind__in=["opened", "clicked"]).exists()


def test_clicking_every_link_at_once_is_a_scanner(send_campaign):
    sent = send_campaign()
    _later(sent, "cy@example.com")
    client = person()
    for n in range(3):
        client.get(sent.path("cy@example.com", "/c/", n))
    machine = [e.data["machine"] for e in Event.objects.filter(kind="clicked").order_by("pk")]
    assert machine == [False, True, True]


# -- unsubscribe ---------------------------------------------------------------------------------


def _status_map(campaign):
    campaign.status_map = {"unsubscribed": "opted out", "opened": "read", "clicked": "clicked"}
    campaign.save(update_fields=["status_map"])


def test_opening_the_unsubscribe_link_unsubscribes_nobody(send_campaign):
    sent = send_campaign()
    link = sent.path("ann@example.com", "/u/")
    for _ in range(3):  # a scanner may fetch it several times, and with HEAD
        assert person().get(link).status_code == 200
        assert person().head(link).status_code == 200
    assert not Suppression.objects.exists()
    assert not Event.objects.filter(kind="unsubscribed").exists()


def test_the_confirmation_page_speaks_the_contacts_language(send_campaign):
    sent = send_campaign()
    page = person().get(sent.path("ann@example.com", "/u/")).content.decode()
    assert 'lang="fr"' in page
    assert "Se désinscrire" in page
    assert "ann@example.com" in page
    page = person().get(sent.path("bob@example.com", "/u/")).content.decode()
    assert 'lang="it"' in page
    assert "Annulla l'iscrizione" in page
    page = person().get(sent.path("cy@example.com", "/u/")).content.decode()
    assert 'lang="en"' in page
    assert "Unsubscribe" in page


def test_the_one_click_post_as_gmail_sends_it_unsubscribes_once(send_campaign):
    sent = send_campaign()
    _status_map(sent.campaign)
    link = sent.path("ann@example.com", "/u/")
    # RFC 8058: a POST with this body and no cookie, no CSRF token, no session.
    gmail = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Google)")
    for _ in range(2):  # mail programs retry; the second changes nothing
        response = gmail.post(
            link,
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
    entry = Suppression.objects.get(value="ann@example.com")
    assert entry.reason == "unsubscribed"
    event = Event.objects.get(kind="unsubscribed")
    assert event.data["via"] == "one-click"
    delivery = sent.delivery("ann@example.com")
    member = ListMember.objects.get(contact_id=delivery.contact_id)
    assert member.status == "opted out"
    assert Engagement.objects.get(pk=delivery.pk).unsubscribed_at == event.at


def test_the_one_click_post_as_multipart_form_data_works_too(send_campaign):
    sent = send_campaign()
    gmail = Client(enforce_csrf_checks=True)
    response = gmail.post(sent.path("bob@example.com", "/u/"), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Suppression.objects.filter(value="bob@example.com", reason="unsubscribed").exists()


def test_the_button_on_the_page_unsubscribes(send_campaign):
    sent = send_campaign()
    link = sent.path("cy@example.com", "/u/")
    page = Client(enforce_csrf_checks=True).post(link)
    assert page.status_code == 200
    assert b"You are unsubscribed" in page.content
    assert Event.objects.get(kind="unsubscribed").data["via"] == "page"
    again = person().get(link).content.decode()
    assert "You are unsubscribed" in again
    assert "<form" not in again


def test_unsubscribing_sends_the_opt_out_confirmation_when_the_campaign_has_one(
    send_campaign, smtp, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from herald.messaging.actions import do_save_template
    from herald.tracking.tasks import send_optout_confirmation

    confirmation = do_save_template(
        ACTOR,
        None,
        name="Bye",
        subject="You are unsubscribed",
        html="<p>Goodbye ${first_name|there}, you will not hear from us again.</p>",
    ).template
    sent = send_campaign(optout_template=confirmation)
    before = len(smtp.received)
    link = sent.path("ann@example.com", "/u/")
    delivery = sent.delivery("ann@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(link, {"List-Unsubscribe": "One-Click"})
    queued = DBTaskResult.objects.get(task_path__endswith="send_optout_confirmation")
    assert queued.args_kwargs["args"] == [delivery.pk]
    assert send_optout_confirmation.call(delivery.pk) == "sent"
    assert [r.rcpt_tos for r in smtp.received[before:]] == [["ann@example.com"]]
    assert b"Goodbye Ann" in smtp.received[-1].content
    # A second unsubscription through the same message sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(link, {"List-Unsubscribe": "One-Click"})
    assert DBTaskResult.objects.filter(task_path__endswith="send_optout_confirmation").count() == 1


# -- ratings and the message in the browser ------------------------------------------------------


def test_a_rating_is_recorded_and_thanked_in_the_contacts_language(send_campaign):
    sent = send_campaign(thank_you_text="Merci, à bientôt !")
    _later(sent, "ann@example.com")
    rating_links = [u for u in sent.links("ann@example.com") if "/r/" in u]
    assert len(rating_links) == 5
    page = person().get(rating_links[3][len(settings.BASE_URL) :])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Merci pour votre note" in text
    assert "Merci, à bientôt !" in text
    event = Event.objects.get(kind="rated")
    assert event.data["score"] == 4
    assert event.data["machine"] is False
    assert Engagement.objects.get(pk=event.delivery_id).rating == 4
    # Changing one's mind: the latest rating counts.
    person().get(rating_links[4][len(settings.BASE_URL) :])
    assert Engagement.objects.get(pk=event.delivery_id).rating == 5


def test_a_scanner_following_rating_links_rates_nothing(send_campaign):
    sent = send_campaign()
    for link in [u for u in sent.links("bob@example.com") if "/r/" in u]:
        scanner = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)")
        assert scanner.get(link[len(settings.BASE_URL) :]).status_code == 200
    assert Engagement.objects.get(pk=sent.delivery("bob@example.com").pk).rating is None
    assert Event.objects.filter(kind="rated", data__machine=True).count() == 5


def test_a_score_outside_one_to_five_is_not_a_rating(send_campaign):
    sent = send_campaign()
    token = tokens.reply_token(sent.delivery("ann@example.com").pk)
    assert person().get(f"/r/{token}/0").status_code == 404
    assert person().get(f"/r/{token}/6").status_code == 404
    assert not Event.objects.filter(kind="rated").exists()


def test_view_in_browser_shows_the_message_as_received(send_campaign):
    sent = send_campaign()
    response = person().get(sent.path("bob@example.com", "/v/"))
    assert response.status_code == 200
    assert "script-src" not in response["Content-Security-Policy"]  # default-src 'none'
    shown = response.content.decode()
    received = sent.html("bob@example.com").replace("\r\n", "\n")  # as it came over SMTP
    pixel = re.search(r'<img src="[^"]+/o/[^"]+"[^>]*>\n', received).group(0)
    assert shown == received.replace(pixel, "")
    assert not Event.objects.filter(kind="opened").exists()  # viewing is not an open

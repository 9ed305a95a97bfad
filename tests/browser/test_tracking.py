"""Tracking in Chromium: a supervisor watches a campaign's statistics update by themselves while
it sends into the sandbox mailbox; a recipient follows a tracked link from a sandbox message and
unsubscribes through the confirmation page."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction
from playwright.sync_api import expect

from herald.audit.actors import Actor
from herald.campaigns import actions
from herald.campaigns.models import Event
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.contacts.models import Suppression
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.mailboxes.sandbox import SandboxServer
from herald.messaging.actions import do_save_template
from herald.tracking import recording

ACTOR = Actor.system("test")
HTML = (
    "<p>Hello ${first_name|there},</p>"
    '<p><a href="https://example.com/offer">See the offer</a></p>'
    '<p><a href="${unsubscribe_url}">Unsubscribe</a></p>'
)
RECIPIENTS = 8


@pytest.fixture
def sandbox_smtp():
    server = SandboxServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def _in_a_thread(work):
    """Runs ``work`` outside this thread, where Playwright's event loop runs (the pre-flight
    check of a start talks SMTP through asyncio)."""
    from django.db import connection

    failure = []

    def run():
        try:
            work()
        except Exception as exc:  # handed to the test
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]


def _wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_watching_a_campaign_send_then_clicking_and_unsubscribing(
    sandbox_smtp, mike, login, live_server, worker, settings
):
    recording.forget()
    settings.BASE_URL = live_server.url  # the links in the messages lead to this server
    with transaction.atomic():
        mailbox = ensure_sandbox_mailbox("127.0.0.1", sandbox_smtp.port)
    customers = do_create_list(ACTOR, name="Customers")
    do_upsert_contacts(
        ACTOR,
        [{"first_name": f"P{n}", "emails": [f"p{n}@example.com"]} for n in range(RECIPIENTS)],
        customers,
    )
    template = do_save_template(ACTOR, None, name="Offer", subject="Our offer", html=HTML).template
    campaign = actions.do_save_campaign(
        ACTOR,
        None,
        lists=[customers],
        name="Spring offer",
        mailbox=mailbox,
        template=template,
        rate_count=1,  # one a second: the page has time to show it going
        rate_unit="second",
    )

    page = login(mike)
    # The offer's site is not on this closed network: the browser gets a stand-in.
    page.route("https://example.com/**", lambda route: route.fulfill(body="<h1>The offer</h1>"))
    _in_a_thread(lambda: actions.do_start_campaign(ACTOR, campaign))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/stats/")
    sent = page.get_by_test_id("count-sent")
    first_seen = int(sent.inner_text())
    assert first_seen < RECIPIENTS  # still sending
    # No reload: the counters refresh by themselves until everything went.
    expect(sent).to_have_text(str(RECIPIENTS), timeout=40_000)
    expect(page.get_by_test_id("count-to-send")).to_have_text("0")
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=15_000)
    assert page.get_by_test_id("timeline").locator("rect.sent").count() >= 1
    _wait_for(lambda: SandboxMessage.objects.count() == RECIPIENTS)

    # A recipient opens the message in the sandbox and follows its link.
    message = next(m for m in SandboxMessage.objects.all() if "p3@example.com" in m.rcpt_tos)
    page.goto(f"{live_server.url}/mailboxes/sandbox/{message.pk}/")
    frame = page.frame_locator("iframe.message-html")
    offer = frame.get_by_role("link", name="See the offer")
    assert f"{live_server.url}/c/" in offer.get_attribute("href")
    unsubscribe_link = frame.get_by_role("link", name="Unsubscribe").get_attribute("href")
    with page.expect_response(lambda r: "/c/" in r.url) as followed:
        offer.click()
    assert followed.value.status == 302
    assert followed.value.headers["location"] == "https://example.com/offer"
    _wait_for(lambda: Event.objects.filter(campaign=campaign, kind="clicked").exists())
    click = Event.objects.get(campaign=campaign, kind="clicked")
    assert click.data["url"] == "https://example.com/offer"
    assert click.delivery.email == "p3@example.com"

    # ... and unsubscribes through the confirmation page (opening it changes nothing).
    page.goto(unsubscribe_link)
    assert not Suppression.objects.exists()
    page.get_by_test_id("confirm-unsubscribe").click()
    expect(page.get_by_test_id("unsubscribed")).to_have_text("You are unsubscribed")
    assert Suppression.objects.get(value="p3@example.com").reason == "unsubscribed"

    # The statistics show the click and the unsubscription, again by themselves.
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/stats/")
    expect(page.get_by_test_id("link-0-clicks")).to_have_text("1")
    expect(page.get_by_test_id("count-unsubscribed")).to_have_text("1")

"""A manager creates a campaign in Chromium on a list and the sandbox mailbox, starts it, and
watches it reach completed while the worker sends; the messages are in the sandbox mailbox."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy

import pytest
from playwright.sync_api import expect

from herald.audit.actors import Actor
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.mailboxes.sandbox import SandboxServer
from herald.messaging.actions import do_save_template

ACTOR = Actor.system("test")
PEOPLE = [("Ann", "ann@example.com"), ("Bob", "bob@example.com"), ("Cy", "cy@example.com")]


@pytest.fixture
def sandbox_smtp() -> Iterator[SandboxServer]:
    server = SandboxServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def test_a_manager_creates_and_starts_a_campaign_that_completes_into_the_sandbox(
    mike, login, live_server, worker, sandbox_smtp
):
    sandbox = ensure_sandbox_mailbox("127.0.0.1", sandbox_smtp.port)
    customers = do_create_list(ACTOR, name="Spring customers")
    do_upsert_contacts(ACTOR, [{"first_name": n, "emails": [e]} for n, e in PEOPLE], customers)
    do_create_list(ACTOR, name="Someone else's list")
    do_save_template(
        ACTOR,
        None,
        name="Spring offer",
        subject="Spring offer for ${first_name|you}",
        html='<p>Hello ${first_name|there},</p><p><a href="${unsubscribe_url}">Unsubscribe</a></p>',
    )

    page = login(mike)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.fill("#id_name", "Spring 2030")
    page.select_option("#id_mailbox", label=sandbox.name)
    page.select_option("#id_template", label="Spring offer")
    recipients = page.get_by_test_id("recipients")
    expect(recipients).to_contain_text("Choose one or more lists")
    page.select_option("#id_lists", label="Spring customers")
    expect(recipients).to_have_text("3 recipients")  # counted live, as the list is chosen
    page.get_by_text("Status mapping").click()  # a folded section: opened to use it
    page.fill("#id_status_sent", "mailed")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Campaign Spring 2030 saved.")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("draft")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("Campaign Spring 2030 started.")).to_be_visible()
    # The panel refreshes itself every few seconds while the worker sends.
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=60_000)
    progress = page.get_by_test_id("progress")
    expect(progress.locator("[data-count=sent]")).to_have_text("3")
    expect(progress.locator("[data-count=to_send]")).to_have_text("0")
    expect(progress.locator("[data-count=total]")).to_have_text("3")
    expect(page.get_by_test_id("events")).to_contain_text("ann@example.com")
    assert page.get_by_test_id("outlook").inner_text().startswith("Finished at")

    stored = list(SandboxMessage.objects.all())
    assert sorted(m.to_header for m in stored) == [e for _n, e in PEOPLE]
    message = email.message_from_bytes(bytes(stored[0].raw), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox mailbox").click()
    listing = page.get_by_test_id("sandbox-messages")
    for name, address in PEOPLE:
        expect(listing).to_contain_text(address)
        expect(listing).to_contain_text(f"Spring offer for {name}")

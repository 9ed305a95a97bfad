"""Accessibility basics checked by axe-core (Deque's rules, as Lighthouse uses them) in Chromium,
on the pages people spend their day in, in English and in Arabic: no serious or critical
violation (a field without a label, text without enough contrast, a button without a name...);
and the desk can be worked with the keyboard alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from herald.audit.actors import Actor
from herald.campaigns import actions as campaigns
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.conversations import actions as desk_actions
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.sandbox import SandboxServer
from herald.messaging.actions import do_save_template
from tests.browser.test_desk import customer_writes
from tests.conftest import PASSWORD

ACTOR = Actor.system("test")
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


@pytest.fixture
def pages(transactional_db, mike) -> Iterator[dict[str, str]]:
    server = SandboxServer("127.0.0.1", 0)
    mailbox = ensure_sandbox_mailbox("127.0.0.1", server.start())
    desk_actions.do_set_members(ACTOR, [mike], [mailbox], add=True)
    conversation = customer_writes(mailbox, "Where is my order 4521?", subject="My order")
    customers = do_create_list(ACTOR, name="Spring customers")
    do_upsert_contacts(ACTOR, [{"first_name": "Sara", "emails": ["sara@example.org"]}], customers)
    template = do_save_template(
        ACTOR,
        None,
        name="Offer",
        subject="Spring offer",
        html='<p>Hello ${first_name|}</p><p><a href="${unsubscribe_url}">Unsubscribe</a></p>',
    ).template
    campaign = campaigns.do_save_campaign(
        ACTOR, None, lists=[customers], mailbox=mailbox, template=template, name="Spring"
    )
    with ThreadPoolExecutor(1) as other:  # Playwright holds this thread's event loop
        other.submit(campaigns.do_start_campaign, ACTOR, campaign).result()
    yield {
        "home": "/",
        "inbox": "/conversations/",
        "conversation": f"/conversations/{conversation.pk}/",
        "supervisor": "/supervisor/",
        "campaigns": "/campaigns/",
        "campaign": f"/campaigns/{campaign.pk}/",
        "campaign form": f"/campaigns/{campaign.pk}/edit/",
        "statistics": f"/campaigns/{campaign.pk}/stats/",
        "mailbox form": f"/mailboxes/{mailbox.pk}/",
        "contact list": f"/contacts/lists/{customers.pk}/",
        "template": f"/templates/{template.pk}/",
        "dispositions": "/dispositions/",
        "profile": "/settings/profile/",
    }
    server.stop()


def violations(page: Page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in found if v["impact"] in SERIOUS]


@pytest.fixture
def checked_page(browser: Browser, live_server) -> Iterator[Page]:
    """A page whose CSP lets the test inject axe-core (Herald's pages allow no inline script)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it (npm ci in tests/browser/axe)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_no_serious_accessibility_violation(checked_page, live_server, mike, pages, language):
    mike.language = language
    mike.save()
    page = checked_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", mike.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    report = {}
    for name, path in pages.items():
        page.goto(live_server.url + path)
        found = violations(page)
        if found:
            report[name] = [
                {
                    "rule": v["id"],
                    "impact": v["impact"],
                    "nodes": [n["target"] for n in v["nodes"][:5]],
                }
                for v in found
            ]
    assert not report, json.dumps(report, indent=1)


def test_the_desk_works_with_the_keyboard(checked_page, live_server, mike, pages):
    page = checked_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", mike.email)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")  # the login form submits from the keyboard
    page.wait_for_url(f"{live_server.url}/")
    page.goto(live_server.url + pages["inbox"])
    for _ in range(60):  # tab to the conversation's link, then open it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "My order":
            break
    else:
        pytest.fail("the conversation's link cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{pages['conversation']}")
    focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus is not None
    for _ in range(80):  # the Take button can be reached and pressed
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Take":
            break
    else:
        pytest.fail("the Take button cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Take the conversation before answering.", state="detached")

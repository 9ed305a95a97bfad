"""Herald in Arabic (right to left) and on a phone: the desk, a campaign and its statistics at
390 px and 1366 px wide. Pages mirror (the menu on the right, back arrows pointing right),
user data keeps its own direction (an address inside Arabic text), and no page is wider than a
phone's screen. Screenshots are written to var/screenshots for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page

from herald.audit.actors import Actor
from herald.campaigns import actions as campaigns
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.conversations import actions as desk_actions
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.sandbox import SandboxServer
from herald.messaging.actions import do_save_template
from tests.browser.test_desk import customer_writes

ACTOR = Actor.system("test")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}


@pytest.fixture
def arabic_manager(mike):
    mike.language = "ar"
    mike.save()
    return mike


@pytest.fixture
def pages(transactional_db, arabic_manager) -> Iterator[dict[str, str]]:
    server = SandboxServer("127.0.0.1", 0)
    mailbox = ensure_sandbox_mailbox("127.0.0.1", server.start())
    desk_actions.do_set_members(ACTOR, [arabic_manager], [mailbox], add=True)
    conversation = customer_writes(
        mailbox, "مرحبا، لم يصل طلبي رقم 4521 بعد. carol@example.org", subject="طلبي"
    )
    customers = do_create_list(ACTOR, name="عملاء الربيع")
    do_upsert_contacts(ACTOR, [{"first_name": "سارة", "emails": ["sara@example.org"]}], customers)
    html = '<p>مرحبا ${first_name|}</p><p><a href="${unsubscribe_url}">إلغاء</a></p>'
    template = do_save_template(
        ACTOR, None, name="عرض", subject="عرض الربيع", html=html, direction="rtl"
    ).template
    campaign = campaigns.do_save_campaign(
        ACTOR, None, lists=[customers], mailbox=mailbox, template=template, name="حملة الربيع"
    )
    with ThreadPoolExecutor(1) as other:  # Playwright holds this thread's event loop
        other.submit(campaigns.do_start_campaign, ACTOR, campaign).result()
    yield {
        "inbox": "/conversations/",
        "conversation": f"/conversations/{conversation.pk}/",
        "supervisor": "/supervisor/",
        "campaign": f"/campaigns/{campaign.pk}/",
        "statistics": f"/campaigns/{campaign.pk}/stats/",
    }
    server.stop()


def _width(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("size", SIZES)
def test_arabic_pages_mirror_and_fit_the_screen(login, arabic_manager, pages, size):
    page = login(arabic_manager)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = page.url.rstrip("/")
    for name, path in pages.items():
        page.goto(base + path)
        assert page.get_attribute("html", "dir") == "rtl"
        page.screenshot(path=str(SHOTS / f"ar-{name}-{size}.png"), full_page=True)
        scroll, inner = _width(page)
        assert scroll <= inner + 1, f"{name} is {scroll} px wide on a {inner} px screen"
    page.goto(base + pages["inbox"])
    status = page.locator('[data-testid="inbox-search"] select[name="status"]')
    if size == "phone":  # the search shows, the other filters wait behind "More filters"
        assert status.is_hidden()
        page.locator("[data-more-filters]").click()
    assert status.is_visible()
    page.goto(base + pages["conversation"])
    back = page.locator("a.back").first
    assert back.evaluate("a => getComputedStyle(a, '::before').content") == '"→"'

"""Templates in Chromium: an Arabic preview is right-aligned; create, preview, restore, test."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from herald.audit.actors import Actor
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.mailboxes.sandbox import SandboxServer
from herald.messaging import actions


@pytest.fixture
def sandbox_smtp(db: None) -> Iterator[SandboxServer]:
    server = SandboxServer("127.0.0.1", 0)
    ensure_sandbox_mailbox("127.0.0.1", server.start())
    yield server
    server.stop()


def test_an_arabic_template_preview_is_right_aligned(mike, login, live_server, tmp_path):
    saved = actions.do_save_template(
        Actor.for_user(mike),
        None,
        name="تذكير",
        subject="مرحبا ${first_name}",
        language="ar",
        direction="rtl",
        html="<p><strong>مرحبا ${first_name}</strong></p><p>شكرا لثقتكم بنا.</p>",
    )
    page = login(mike)
    variables = json.dumps({"first_name": "أحمد"})
    page.goto(f"{live_server.url}/templates/{saved.template.pk}/preview/?vars={variables}")
    frame = page.get_by_test_id("preview-desktop")
    greeting = page.frame_locator("[data-testid=preview-desktop]").locator("strong")
    assert greeting.inner_text() == "مرحبا أحمد"
    box, greeting_box = frame.bounding_box(), greeting.bounding_box()
    assert box is not None
    assert greeting_box is not None
    shot = tmp_path / "arabic-preview.png"
    frame.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    # Right-aligned: the text hugs the right edge of the message and is far from the left one.
    right_gap = (box["x"] + box["width"]) - (greeting_box["x"] + greeting_box["width"])
    left_gap = greeting_box["x"] - box["x"]
    assert right_gap < 40
    assert left_gap > box["width"] / 2
    direction = page.frame_locator("[data-testid=preview-desktop]").locator("body")
    assert direction.evaluate("b => getComputedStyle(b).direction") == "rtl"
    assert direction.evaluate("b => getComputedStyle(b).textAlign") == "right"


def test_a_manager_creates_previews_restores_and_sends_a_test(
    mike, login, live_server, worker, sandbox_smtp
):
    ensure_sandbox_mailbox()
    customers = do_create_list(Actor.for_user(mike), name="Branch customers")
    people = [
        {"first_name": "Ana", "emails": ["ana@example.com"], "fields": {"branch": "Turin"}},
        {"first_name": "Bruno", "emails": ["bruno@example.com"], "fields": {"branch": "Milan"}},
    ]
    do_upsert_contacts(Actor.for_user(mike), people, customers)
    page = login(mike)
    page.goto(f"{live_server.url}/templates/")
    page.click("text=New template")
    page.fill("#id_name", "Appointment reminder")
    page.fill("#id_subject", "Your appointment, ${first_name|dear customer}")
    page.fill("#id_html", "<p>Hello ${first_name|dear customer}, see you at ${branch}.</p>")
    page.click("[data-testid=template-form] button[type=submit]")
    page.get_by_text("Saved as version 1.").wait_for()

    # Version 2 changes the greeting; the first version is restored later.
    page.fill("#id_html", "<p>Hi ${first_name|dear customer}! Branch: ${branch}.</p>")
    page.click("[data-testid=template-form] button[type=submit]")
    page.get_by_text("Saved as version 2.").wait_for()

    # Preview for the two contacts of a list, one after the other.
    page.click("text=Preview")
    preview = page.frame_locator("[data-testid=preview-desktop]")
    with page.expect_navigation():
        page.select_option("#preview-list", label="Branch customers")
        page.click("[data-testid=list-form] button[type=submit]")
    for name, branch in [("Ana", "Turin"), ("Bruno", "Milan")]:
        assert preview.locator("p").inner_text() == f"Hi {name}! Branch: {branch}."
        assert page.get_by_test_id("subject").inner_text() == f"Your appointment, {name}"
        assert f"Hi {name}! Branch: {branch}." in page.get_by_test_id("text-part").inner_text()
        page.get_by_test_id("next").click()
    assert page.get_by_test_id("preview-mobile").bounding_box()["width"] < 400
    # Sample variables work too, for a template no list fits yet.
    with page.expect_navigation():
        page.select_option("#preview-list", label="sample variables")
        page.click("[data-testid=list-form] button[type=submit]")
    page.fill("#preview-vars", json.dumps({"first_name": "Dora", "branch": "Rome"}))
    page.click("[data-testid=vars-form] button[type=submit]")
    assert preview.locator("p").inner_text() == "Hi Dora! Branch: Rome."

    # A contact without a branch would be skipped, and the page says why.
    page.fill("#preview-vars", json.dumps({"first_name": "Carla"}))
    page.click("[data-testid=vars-form] button[type=submit]")
    assert "${branch}" in page.get_by_test_id("render-error").inner_text()

    # Restore version 1: it becomes version 3, and the preview shows the old wording.
    page.click("text=Versions")
    assert "-<p>Hello" in page.get_by_test_id("version-2").inner_text()
    page.get_by_test_id("version-1").get_by_role("button").click()
    page.get_by_text("Version 1 restored as version 3.").wait_for()
    page.goto(page.url.replace("/versions/", "/preview/"))
    page.fill("#preview-vars", json.dumps({"first_name": "Ana", "branch": "Turin"}))
    page.click("[data-testid=vars-form] button[type=submit]")
    assert preview.locator("p").inner_text() == "Hello Ana, see you at Turin."

    # Send a test through the sandbox mailbox: the worker sends it, the sandbox keeps it.
    page.fill("#id_to", "tester@example.com")
    page.click("[data-testid=send-test] button[type=submit]")
    page.get_by_text("Test message to tester@example.com queued").wait_for()
    for _ in range(100):
        if SandboxMessage.objects.exists():
            break
        page.wait_for_timeout(100)
    page.goto(f"{live_server.url}/mailboxes/sandbox/")
    listing = page.get_by_test_id("sandbox-messages")
    assert "Your appointment, Ana" in listing.inner_text()
    assert "tester@example.com" in listing.inner_text()
    page.click("text=Your appointment, Ana")
    body = page.frame_locator("iframe").locator("p")
    assert body.inner_text() == "Hello Ana, see you at Turin."

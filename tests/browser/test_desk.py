"""The agent desk in Chromium, as agents and a manager use it, with the worker sending through the
sandbox mailbox: taking and answering (assignment mode), answering without taking (open mode), a
manager reassigning, the CC/BCC rule, "New email" refused (active conversation, the agent's
limit), closing with a wrap-up reason, search, and mail that arrives while the page is open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from herald.accounts.models import Role, User
from herald.audit.actors import Actor
from herald.conversations import actions
from herald.conversations.models import Conversation
from herald.mailboxes.actions import do_save_mailbox, ensure_sandbox_mailbox
from herald.mailboxes.models import Mailbox, SandboxMessage
from herald.mailboxes.sandbox import SandboxServer, take_in
from tests.conftest import PASSWORD

ACTOR = Actor.system("test")


@pytest.fixture
def desk(transactional_db: None, alice: User) -> Iterator[Mailbox]:
    """The sandbox mailbox (its SMTP server running), worked by alice, in assignment mode."""
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    mailbox = ensure_sandbox_mailbox("127.0.0.1", port)
    actions.do_set_members(ACTOR, [alice], [mailbox], add=True)
    yield mailbox
    server.stop()


def customer_writes(
    mailbox: Mailbox,
    text: str,
    sender: str = "carol@example.org",
    subject: str = "Broken charger",
    headers: str = "",
) -> Conversation:
    n = Conversation.objects.count() + SandboxMessage.objects.count() + 1
    raw = (
        f"From: Carol Buyer <{sender}>\r\nTo: {mailbox.from_address}\r\nSubject: {subject}\r\n"
        f"Message-ID: <b{n}-{sender}>\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{text}\r\n"
    ).encode()
    take_in(mailbox, raw, n)
    return Conversation.objects.filter(contact__addresses__email=sender).latest("id")


def write(page: Page, text: str) -> None:
    editor = page.get_by_test_id("editor")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type(text)


def test_an_agent_takes_and_answers_a_conversation_in_assignment_mode(
    alice, login, live_server, worker, desk
):
    customer_writes(desk, "My charger stopped working.")
    page = login(alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.get_by_test_id("view-unassigned").click()
    expect(page.get_by_test_id("unread")).to_have_count(1)
    page.get_by_role("link", name="Broken charger").click()
    expect(page.get_by_test_id("read-only")).to_have_text("Take the conversation before answering.")
    page.get_by_test_id("take").click()
    expect(page.get_by_test_id("assignee")).to_have_text("alice")
    expect(page.get_by_test_id("to-reply")).to_have_text("carol@example.org")
    write(page, "We are sending you a new one today.")
    page.keyboard.press("Shift+Home")  # the line typed, made bold with the toolbar
    page.get_by_role("button", name="Bold").click()
    page.get_by_test_id("send").click()
    expect(page.get_by_text("Queued for sending to carol@example.org")).to_be_visible()
    # The worker sends it; the thread refreshes itself and shows it sent.
    expect(page.get_by_test_id("send-state").last).to_have_text("sent", timeout=30_000)
    sent = SandboxMessage.objects.get(rcpt_tos=["carol@example.org"])
    body = sent.parsed().get_body(("plain",)).get_content()
    assert "We are sending you a new one today." in body
    assert sent.parsed()["Subject"] == "Re: Broken charger"
    html = sent.parsed().get_body(("html",)).get_content()
    assert "<b>We are sending you a new one today.</b>" in html


def test_in_open_mode_an_agent_answers_without_taking(alice, login, live_server, worker, desk):
    do_save_mailbox(ACTOR, desk, {"desk_mode": "open"}, secrets={})
    conversation = customer_writes(desk, "Is the shop open on Sunday?", subject="Opening hours")
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    expect(page.get_by_test_id("take")).to_have_count(0)
    write(page, "Yes, from 10 to 16.")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("send-state").last).to_have_text("sent", timeout=30_000)
    expect(page.get_by_test_id("assignee")).to_have_text("nobody")


def test_a_manager_reassigns_a_conversation_to_another_agent(alice, mike, login, live_server, desk):
    bob = User.objects.create_user(
        email="bob@example.com", password=PASSWORD, role=Role.AGENT, name="bob"
    )
    actions.do_set_members(ACTOR, [bob], [desk], add=True)
    conversation = customer_writes(desk, "Hello?")
    actions.do_take(alice, conversation)
    page = login(mike)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    expect(page.get_by_test_id("assignee")).to_have_text("alice")
    page.select_option("#assign-agent", label="bob")
    page.get_by_test_id("assign").click()
    expect(page.get_by_test_id("assignee")).to_have_text("bob")
    conversation.refresh_from_db()
    assert conversation.assignee == bob


def test_answers_use_the_conversations_cc_bcc_not_the_received_messages(
    alice, login, live_server, worker, desk
):
    conversation = customer_writes(
        desk, "Copying my colleagues.", headers="Cc: dan@example.org, erin@example.org\r\n"
    )
    actions.do_take(alice, conversation)
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    expect(page.get_by_test_id("cc-reply")).to_have_text("dan@example.org, erin@example.org")
    page.get_by_test_id("cc-form").locator("summary").click()
    page.fill("#cc", "dan@example.org")
    page.fill("#bcc", "audit@example.org")
    page.get_by_test_id("save-cc").click()
    expect(page.get_by_test_id("cc-reply")).to_have_text("dan@example.org")
    expect(page.get_by_test_id("bcc-reply")).to_have_text("audit@example.org")
    write(page, "Noted.")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("send-state").last).to_have_text("sent", timeout=30_000)
    sent = next(m for m in SandboxMessage.objects.all() if "carol@example.org" in m.rcpt_tos)
    assert sent.parsed()["Cc"] == "dan@example.org"
    assert sorted(sent.rcpt_tos) == ["audit@example.org", "carol@example.org", "dan@example.org"]


def test_a_new_email_is_refused_when_one_is_active_and_at_the_agents_limit(
    alice, login, live_server, desk
):
    existing = customer_writes(desk, "Hi", sender="gus@example.org")
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/new/")
    page.fill("#to", "gus@example.org")
    page.fill("#subject", "A question for you")
    write(page, "Hello Gus")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("refused")).to_contain_text("already has an active conversation")
    page.get_by_test_id("refused-link").click()
    page.wait_for_url(f"{live_server.url}/conversations/{existing.pk}/")

    do_save_mailbox(ACTOR, desk, {"max_outbound_open": 1}, secrets={})
    actions.do_start_conversation(alice, desk, to="hal@example.org", subject="One", html="x")
    page.goto(f"{live_server.url}/conversations/new/")
    page.fill("#to", "ivy@example.org")
    page.fill("#subject", "Two")
    write(page, "Hello Ivy")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("refused")).to_contain_text("your limit")
    assert not Conversation.objects.filter(contact__addresses__email="ivy@example.org").exists()


def test_an_agent_closes_a_conversation_with_a_wrap_up_reason(
    alice, mike, login, live_server, desk
):
    do_save_mailbox(ACTOR, desk, {"wrapup_required": True}, secrets={})
    actions.do_save_wrapup_reason(ACTOR, None, mailbox=desk, name="Replacement sent")
    conversation = customer_writes(desk, "Thanks!")
    actions.do_take(alice, conversation)
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    page.select_option("#wrapup-reason", label="Replacement sent")
    page.fill("#wrapup-note", "customer happy")
    page.get_by_test_id("close").click()
    expect(page.get_by_text("Conversation closed.")).to_be_visible()
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert conversation.wrapup_reason.name == "Replacement sent"
    page.get_by_role("button", name="Log out").click()
    page = login(mike)
    page.goto(f"{live_server.url}/conversations/wrap-up/report/")
    expect(page.get_by_test_id("by-agent")).to_contain_text("alice@example.com")
    expect(page.get_by_test_id("by-agent")).to_contain_text("Replacement sent")


def test_an_agent_searches_by_customer_and_message_text(alice, login, live_server, desk):
    customer_writes(desk, "The blender makes a noise", sender="liz@example.org", subject="Noise")
    customer_writes(desk, "Where is my invoice?", sender="max@example.org", subject="Invoice")
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/")
    search = page.get_by_test_id("inbox-search")
    search.locator("input[name=q]").fill("blender")
    search.get_by_role("button", name="Show").click()
    rows = page.get_by_test_id("conversation-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Noise")
    search.locator("input[name=q]").fill("max@example.org")
    search.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Invoice")


def test_mail_arriving_while_the_pages_are_open_appears_without_a_reload(
    alice, login, live_server, desk
):
    conversation = customer_writes(desk, "First message")
    page = login(alice)
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    expect(page.get_by_test_id("message")).to_have_count(1)
    customer_writes(desk, "Second message, while you read")
    expect(page.get_by_test_id("message")).to_have_count(2, timeout=10_000)
    expect(page.get_by_text("Second message, while you read")).to_be_visible()

    page.goto(f"{live_server.url}/conversations/?view=all")
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    customer_writes(desk, "A new customer", sender="new@example.org", subject="Fresh one")
    expect(page.get_by_test_id("conversation-row")).to_have_count(2, timeout=10_000)
    expect(page.get_by_test_id("count-all")).to_have_text("2")

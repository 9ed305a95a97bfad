"""Routing in Chromium: an agent goes available from the header and conversations come to her
without a reload, up to her capacity, the next one as she closes one; a manager sets an agent's
capacity on Agent teams; the supervisor page follows the queue and presence by itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from herald.accounts.models import User
from herald.audit.actors import Actor
from herald.conversations import actions
from herald.conversations.models import Conversation, MailboxMember
from herald.mailboxes.actions import do_save_mailbox, ensure_sandbox_mailbox
from herald.mailboxes.models import Mailbox
from herald.mailboxes.sandbox import SandboxServer
from herald.routing.actions import do_set_presence
from herald.routing.models import Presence
from tests.browser.test_desk import customer_writes

ACTOR = Actor.system("test")


@pytest.fixture
def routed(transactional_db: None, alice: User) -> Iterator[Mailbox]:
    """The sandbox mailbox, worked by alice, assigned automatically, one conversation each."""
    server = SandboxServer("127.0.0.1", 0)
    port = server.start()
    mailbox = ensure_sandbox_mailbox("127.0.0.1", port)
    actions.do_set_members(ACTOR, [alice], [mailbox], add=True)
    mailbox = do_save_mailbox(
        ACTOR, mailbox, {"auto_assign": True, "agent_capacity": 1}, secrets={}
    )
    yield mailbox
    server.stop()


def mine(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.get_by_test_id("view-mine").click()


def test_an_available_agent_gets_conversations_up_to_her_capacity_without_reloading(
    alice, login, live_server, routed
):
    page = login(alice)
    expect(page.get_by_test_id("presence")).to_have_value("offline")
    customer_writes(routed, "Where is my parcel?", sender="ann@example.org", subject="Parcel")
    mine(page)
    expect(page.get_by_test_id("conversation-row")).to_have_count(0)

    page.get_by_test_id("presence").select_option("available")
    # Routing hands her the waiting conversation; the inbox refreshes itself.
    expect(page.get_by_test_id("conversation-row")).to_have_count(1, timeout=10_000)
    expect(page.get_by_test_id("conversation-row")).to_contain_text("Parcel")
    assert Presence.objects.get(user=alice).status == "available"

    customer_writes(routed, "And my invoice?", sender="bo@example.org", subject="Invoice")
    page.wait_for_timeout(5_000)  # a refresh or more: still one, she is at capacity
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    assert Conversation.objects.get(subject="Invoice").assignee is None

    page.get_by_role("link", name="Parcel").click()
    page.get_by_test_id("close").click()
    expect(page.get_by_text("Conversation closed.")).to_be_visible()
    mine(page)
    expect(page.get_by_test_id("conversation-row")).to_contain_text("Invoice", timeout=10_000)


def test_a_manager_sets_an_agents_capacity_and_watches_the_supervisor_page(
    alice, mike, login, live_server, routed
):
    customer_writes(routed, "Hello?", sender="ann@example.org", subject="First")
    page = login(mike)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agent teams").click()
    row = page.locator('[data-testid="member-row"][data-agent="alice@example.com"]')
    expect(row.get_by_text("offline")).to_be_visible()
    row.get_by_test_id("member-capacity").fill("2")
    row.get_by_test_id("member-save").click()
    expect(page.get_by_text("Limits saved.")).to_be_visible()
    assert MailboxMember.objects.get(user=alice).capacity == 2

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Supervisor").click()
    box = page.locator(f'[data-testid="supervisor-mailbox"][data-mailbox="{routed.name}"]')
    expect(box.get_by_test_id("queue-length")).to_have_text("1")
    agent = box.locator('[data-testid="supervisor-agent"]', has_text="alice")
    expect(agent.get_by_test_id("agent-presence")).to_have_text("offline")

    # While the page stays open: another customer writes, then alice becomes available.
    customer_writes(routed, "Anyone?", sender="bo@example.org", subject="Second")
    expect(box.get_by_test_id("queue-length")).to_have_text("2", timeout=10_000)
    do_set_presence(alice, "available")
    expect(agent.get_by_test_id("agent-presence")).to_have_text("available", timeout=10_000)
    expect(agent.get_by_test_id("agent-load")).to_have_text("2/2")
    expect(box.get_by_test_id("queue-length")).to_have_text("0")

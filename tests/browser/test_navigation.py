"""Each role logs in through the real login page and sees the navigation its role allows."""

import pytest
from playwright.sync_api import expect

AGENT = {"Home", "Inbox", "Contacts", "Sandbox mailbox", "API tokens"}
MANAGER = AGENT | {
    "Dashboard",
    "Contact lists",
    "Suppression list",
    "Templates",
    "Mailboxes",
    "Campaigns",
    "History",
    "Supervisor",
    "Agent teams",
    "Wrap-up reasons",
    "Dispositions",
}
EXPECTED = {
    "agent": AGENT,
    "manager": MANAGER,
    "admin": MANAGER | {"Users", "Account settings", "Webhooks"},
}


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_each_role_logs_in_and_sees_its_navigation(role, personas, login):
    page = login(personas[role])
    links = set(page.locator("nav.sidebar a").all_inner_texts())
    assert links == EXPECTED[role]
    assert personas[role].email in page.get_by_test_id("whoami").inner_text()


def test_a_deactivated_user_cannot_log_in(personas, page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", personas["outsider"].email)
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    # expect() waits for the answer to the form's POST; is_visible() would race the navigation.
    expect(page.locator("[role=alert]")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/login/")


def test_no_page_of_the_menu_breaks_the_content_security_policy(personas, login, live_server):
    """Every page an admin can open, in a real browser: nothing the policy blocks (an inline
    script or handler would show here as a console error), and the language menu, now driven
    by a script file, still switches the language."""
    violations: list[str] = []
    page = login(personas["admin"])
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    links = page.locator("nav.sidebar a")
    for n in range(links.count()):
        links.nth(n).click()
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/")
    page.select_option("#language-select", "fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert violations == []

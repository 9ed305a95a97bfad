"""Each role logs in through the real login page and sees the navigation its role allows."""

import pytest

EXPECTED = {
    "agent": {"Home", "Sandbox mailbox", "Contacts", "API tokens"},
    "manager": {
        "Home",
        "Sandbox mailbox",
        "Contacts",
        "Contact lists",
        "Suppression list",
        "History",
        "API tokens",
    },
    "admin": {
        "Home",
        "Sandbox mailbox",
        "Contacts",
        "Contact lists",
        "Suppression list",
        "History",
        "Users",
        "Account settings",
        "API tokens",
    },
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
    assert page.locator("[role=alert]").is_visible()
    assert page.url.startswith(f"{live_server.url}/login/")

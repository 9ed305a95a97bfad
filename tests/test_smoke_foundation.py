import pytest


@pytest.mark.django_db
def test_an_agent_sees_the_home_page(client_for, alice):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert "alice@example.com" in response.content.decode()


@pytest.mark.django_db
def test_one_menu_entry_is_current_even_when_addresses_nest(client_for, mike):
    page = client_for(mike).get("/mailboxes/sandbox/").content.decode()
    assert page.count('aria-current="page"') == 1
    assert 'aria-current="page">Sandbox mailbox<' in page

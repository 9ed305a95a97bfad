import pytest


@pytest.mark.django_db
def test_an_agent_sees_the_home_page(client_for, alice):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert "alice@example.com" in response.content.decode()

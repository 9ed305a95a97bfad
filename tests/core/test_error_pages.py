"""Herald's own 403, 404 and 500 pages (in its layout, in the visitor's language, saying what to
do next) and its icon."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def _fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _fails), path("", include("herald.urls"))]


def test_an_unknown_address_gets_a_page_in_herald_s_layout(client_for, alice, settings):
    settings.DEBUG = False
    answer = client_for(alice).get("/no/such/page/")
    assert answer.status_code == 404
    page = answer.content.decode()
    assert 'data-testid="error-page"' in page
    assert "Page not found" in page
    assert 'class="sidebar"' in page  # the navigation is there: the way on is one click


def test_a_page_of_another_role_says_why(client_for, alice, settings):
    settings.DEBUG = False
    answer = client_for(alice).get("/campaigns/")  # a manager's page
    assert answer.status_code == 403
    assert "Your role does not give access to this page" in answer.content.decode()


def test_a_server_error_gets_a_calm_page(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    answer = client.get("/boom/")
    assert answer.status_code == 500
    page = answer.content.decode()
    assert "Something went wrong" in page
    assert "herald/favicon" in page


def test_the_icon(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302
    assert answer["Location"].endswith("herald/favicon.svg")

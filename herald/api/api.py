"""The NinjaAPI instance: each part of Herald adds its router here."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError

from herald import __version__
from herald.api import (
    accounts,
    audit,
    campaigns,
    contacts,
    conversations,
    mailboxes,
    messaging,
    routing,
)
from herald.conversations.actions import Refused

api = NinjaAPI(
    title="Herald API",
    version=__version__,
    urls_namespace="api",
    description=(
        "Herald's REST API. Authenticate with an API token (Settings → API tokens) sent as "
        "`Authorization: Bearer hrd_…`. A token acts as its user, with that user's role."
    ),
)
api.add_router("", accounts.router)
api.add_router("", audit.router)
api.add_router("", messaging.router)
api.add_router("", contacts.router)
api.add_router("", mailboxes.router)
api.add_router("", campaigns.router)
api.add_router("", conversations.router)
api.add_router("", routing.router)


@api.exception_handler(ValidationError)
def invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """An action refused its input: 422 with the same messages the pages show, by field."""
    detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A number the database cannot hold (an id beyond 64 bits) or a value it refuses (a NUL
    character in a text on PostgreSQL): the request is wrong, not the server."""
    return api.create_response(
        request,
        {
            "detail": "a value is out of range: ids are at most 2^63-1, and texts hold no NUL "
            "character"
        },
        status=422,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = getattr(exc, "detail", None) or str(exc)
    return api.create_response(request, {"detail": detail}, status=exc.status_code)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """The desk will not do this now (taken by someone else, already active, a limit)."""
    status, body = conversations.refused(exc)
    return api.create_response(request, body, status=status)

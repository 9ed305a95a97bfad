"""The NinjaAPI instance: each part of Herald adds its router here.

Every error the API answers has the same body, ``{"detail": ...}``, and every operation's
OpenAPI entry declares the errors it can answer (``_declare_errors``), so that a client generated
from the schema knows them all.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import HttpError

from herald import __version__
from herald.accounts.access import public
from herald.api import (
    accounts,
    audit,
    campaigns,
    contacts,
    conversations,
    dispositions,
    mail,
    mailboxes,
    messaging,
    routing,
    statistics,
    webhooks,
)
from herald.conversations.actions import Refused
from herald.core.deletion import InUse

# The errors every operation of a kind can answer, with what they mean to the caller.
BAD_REQUEST = (
    "The request is malformed: a body that is not JSON or larger than the server takes, or a "
    "NUL character in the address."
)
NO_TOKEN = "No valid API token: send `Authorization: Bearer hrd_…`."  # noqa: S105
FORBIDDEN = "The token's user lacks the role this needs, or may not do this to this object."
NOT_FOUND = "No such object (named in the path, or by an id in the input)."
INVALID = "The input is invalid: `detail` says what to fix, by field where it can."
CONFLICT = "Not now: the object is not in a state that allows this (`detail` says why)."
ERROR_BODY = {
    "type": "object",
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}]}
    },
    "required": ["detail"],
}


def _declare_errors(schema: dict[str, Any]) -> None:
    """Adds to each operation the errors it can answer: 401 and 403 when it needs a token; 400,
    404 and 422 when it takes any input (malformed, naming no object, or invalid).
    A 409 stays declared by the operations that can refuse on an object's state."""
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            answers = operation.setdefault("responses", {})
            takes_input = "requestBody" in operation or bool(operation.get("parameters"))
            errors = {
                "400": BAD_REQUEST if takes_input else None,
                "401": NO_TOKEN if operation.get("security") else None,
                "403": FORBIDDEN if operation.get("security") else None,
                "404": NOT_FOUND if takes_input else None,
                "409": CONFLICT if "409" in answers else None,
                "422": INVALID if takes_input else None,
            }
            for status, description in errors.items():
                if description:
                    answers[str(status)] = {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_BODY}},
                    }


class HeraldAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        _declare_errors(schema)
        return schema


api = HeraldAPI(
    title="Herald API",
    version=__version__,
    urls_namespace="api",
    description=(
        "Herald's REST API. Authenticate with an API token (Settings → API tokens) sent as "
        "`Authorization: Bearer hrd_…`. A token acts as its user, with that user's role.\n\n"
        "Every POST takes an optional `Idempotency-Key` header (up to 255 characters): sent "
        "again with the same key within 24 hours, the request has no second effect and gets "
        "the first answer again (with `Idempotent-Replayed: true`); 409 while the first still "
        "runs, 422 if the key was used for another request."
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
api.add_router("", mail.router)
api.add_router("", statistics.router)
api.add_router("", webhooks.router)
api.add_router("", dispositions.router)


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


@api.exception_handler(InUse)
def in_use(request: HttpRequest, exc: InUse) -> HttpResponse:
    """A deletion refused while something still needs the object: 409 with the reasons."""
    return api.create_response(request, {"detail": str(exc), "reasons": exc.reasons}, status=409)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """The desk will not do this now (taken by someone else, already active, a limit)."""
    status, body = conversations.refused(exc)
    return api.create_response(request, body, status=status)


@public
@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /api/: a JSON 404 like the API's own, not the HTML page (an id
    that is not a number, a mistyped path)."""
    return JsonResponse(
        {"detail": f"no API operation at {request.path}: see /api/v1/docs"}, status=404
    )

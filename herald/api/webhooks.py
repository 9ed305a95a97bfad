"""Webhooks in the API (admins): endpoints, their secret, their delivery log, replays."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from herald.api import auth
from herald.api.schemas import Input
from herald.audit.actors import Actor
from herald.webhooks import actions
from herald.webhooks.events import EVENT_TYPES
from herald.webhooks.models import Endpoint, Message

router = Router(tags=["webhooks"])
LOG_PAGE = 100


class EndpointIn(Input):
    url: str
    description: str = ""
    event_types: list[str] = []


class EndpointPatch(Input):
    url: str | None = None
    description: str | None = None
    event_types: list[str] | None = None
    active: bool | None = None


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    disabled_reason: str
    failing_since: datetime | None
    created_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str  # shown to admins: the receiver needs it to verify signatures


class MessageOut(Schema):
    id: int
    message_id: str
    event_type: str
    object_key: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_response: str
    last_error: str
    payload: dict


class LogFilter(Schema):
    state: str | None = None
    before: int | None = None  # the id of the last message of the previous page


@router.get("/webhooks/event-types", response=list[str], auth=auth.ADMIN)
def event_types(request: HttpRequest) -> list[str]:
    """Every event type an endpoint can subscribe to (an empty list subscribes to all)."""
    return EVENT_TYPES


@router.get("/webhooks", response=list[EndpointWithSecret], auth=auth.ADMIN)
def list_endpoints(request: HttpRequest) -> list[Endpoint]:
    return list(Endpoint.objects.all())


@router.post("/webhooks", response={201: EndpointWithSecret}, auth=auth.ADMIN)
def create_endpoint(request: HttpRequest, payload: EndpointIn) -> Status:
    endpoint = actions.do_create_endpoint(
        Actor.for_request(request),
        payload.url,
        event_types=payload.event_types,
        description=payload.description,
    )
    return Status(201, endpoint)


@router.patch("/webhooks/{endpoint_id}", response=EndpointWithSecret, auth=auth.ADMIN)
def change_endpoint(request: HttpRequest, endpoint_id: int, payload: EndpointPatch) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    fields = payload.model_dump(exclude_unset=True, exclude_none=True)
    return actions.do_change_endpoint(Actor.for_request(request), endpoint, **fields)


@router.delete("/webhooks/{endpoint_id}", response={204: None}, auth=auth.ADMIN)
def delete_endpoint(request: HttpRequest, endpoint_id: int) -> Status:
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    actions.do_delete_endpoint(Actor.for_request(request), endpoint)
    return Status(204, None)


@router.post("/webhooks/{endpoint_id}/rotate-secret", response=EndpointWithSecret, auth=auth.ADMIN)
def rotate_secret(request: HttpRequest, endpoint_id: int) -> Endpoint:
    """A new secret; the previous one also signs for 24 hours, while the receiver switches."""
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    return actions.do_rotate_secret(Actor.for_request(request), endpoint)


@router.get("/webhooks/{endpoint_id}/messages", response=list[MessageOut], auth=auth.ADMIN)
def message_log(request: HttpRequest, endpoint_id: int, filters: Query[LogFilter]) -> list[Message]:
    """The endpoint's messages, newest first, with the last attempt's status and answer."""
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    messages = Message.objects.filter(endpoint=endpoint).order_by("-id")
    if filters.state:
        messages = messages.filter(state=filters.state)
    if filters.before:
        messages = messages.filter(id__lt=filters.before)
    return list(messages[:LOG_PAGE])


@router.post("/webhooks/{endpoint_id}/replay", response=dict, auth=auth.ADMIN)
def replay_failed(request: HttpRequest, endpoint_id: int) -> dict:
    """Sends every failed (given up) message of the endpoint again."""
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    return {"replayed": actions.do_replay(Actor.for_request(request), endpoint)}


@router.post(
    "/webhooks/{endpoint_id}/messages/{webhook_message_id}/replay", response=dict, auth=auth.ADMIN
)
def replay_one(request: HttpRequest, endpoint_id: int, webhook_message_id: int) -> dict:
    """Sends one message again, whatever its state."""
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    message = get_object_or_404(Message, pk=webhook_message_id, endpoint=endpoint)
    return {"replayed": actions.do_replay(Actor.for_request(request), endpoint, message)}

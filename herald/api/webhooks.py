"""Webhooks in the API (admins): endpoints, their secret, their delivery log, replays."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from herald.api import auth
from herald.api.schemas import Error, Input
from herald.audit.actors import Actor
from herald.webhooks import actions
from herald.webhooks.events import EVENT_TYPES
from herald.webhooks.models import Endpoint, Feed, FeedEvent, Message

router = Router(tags=["webhooks"])
LOG_PAGE = 100
FEED_PAGE = 1000


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


class FeedOut(Schema):
    enabled: bool
    keep_days: int


class FeedIn(Input):
    enabled: bool | None = None
    keep_days: int | None = None


class FeedEventOut(Schema):
    id: int
    type: str
    object_key: str
    timestamp: str
    data: dict


class FeedPage(Schema):
    events: list[FeedEventOut]
    next_after: int  # pass it as ``after`` for the next page (the same when nothing is new)


class FeedFilter(Schema):
    after: int = 0
    limit: int = 500
    types: str = ""  # comma-separated event types; empty: all


@router.get("/events/feed", response=FeedOut, auth=auth.ADMIN, tags=["events"])
def get_feed(request: HttpRequest) -> Feed:
    return Feed.load()


@router.put("/events/feed", response=FeedOut, auth=auth.ADMIN, tags=["events"])
def set_feed(request: HttpRequest, payload: FeedIn) -> Feed:
    """Turns the event feed on or off, and sets how long it keeps events."""
    return actions.do_set_feed(
        Actor.for_request(request), enabled=payload.enabled, keep_days=payload.keep_days
    )


@router.get("/events", response={200: FeedPage, 409: Error}, auth=auth.MANAGER, tags=["events"])
def events(request: HttpRequest, filters: Query[FeedFilter]) -> Status:
    """Every event recorded while the feed is on, oldest first, a page after ``after``: for a
    data warehouse. Ids only grow and none appears late below one already read, so paging with
    ``next_after`` reads each event once."""
    if not Feed.objects.filter(enabled=True).exists():
        raise HttpError(409, "the event feed is off: an admin turns it on (PUT /events/feed)")
    rows = FeedEvent.objects.filter(pk__gt=max(0, filters.after)).order_by("pk")
    types = [t.strip() for t in filters.types.split(",") if t.strip()]
    if types:
        rows = rows.filter(event_type__in=types)
    page = list(rows[: max(1, min(filters.limit, FEED_PAGE))])
    return Status(
        200,
        {
            "events": [
                {
                    "id": e.pk,
                    "type": e.event_type,
                    "object_key": e.object_key,
                    "timestamp": e.payload.get("timestamp", ""),
                    "data": e.payload.get("data", {}),
                }
                for e in page
            ],
            "next_after": page[-1].pk if page else max(0, filters.after),
        },
    )

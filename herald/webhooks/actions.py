"""Webhook endpoints as admins manage them: subscribe, change, rotate the secret, replay, remove.

Every change is audited; the secret is never in the history (only that it changed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor
from herald.webhooks import signing
from herald.webhooks.events import EVENT_TYPES
from herald.webhooks.models import Endpoint, Feed, Message, MessageState

FIELDS = ["url", "description", "event_types", "active"]
ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret still signs this long


def _check(url: str, event_types: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        errors["url"] = ["an http:// or https:// address, e.g. https://crm.example.com/herald"]
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        errors["event_types"] = [
            f"unknown event types: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_create_endpoint(
    actor: Actor,
    url: str,
    *,
    event_types: list[str] | None = None,
    description: str = "",
    active: bool = True,
) -> Endpoint:
    event_types = sorted(set(event_types or []))
    _check(url, event_types)
    endpoint = Endpoint(url=url, description=description, event_types=event_types, active=active)
    endpoint.secret = signing.new_secret()
    endpoint.save()
    record(actor, "webhook.create", endpoint, diff({}, snapshot(endpoint, FIELDS)))
    return endpoint


@transaction.atomic
def do_change_endpoint(actor: Actor, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Changes the given fields; turning an endpoint on again clears why it was off."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"cannot change {', '.join(sorted(unknown))} here")
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = snapshot(endpoint, FIELDS)
    if "event_types" in fields:
        fields["event_types"] = sorted(set(fields["event_types"]))
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _check(endpoint.url, endpoint.event_types)
    if fields.get("active") and not before["active"]:
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    endpoint.save()
    changes = diff(before, snapshot(endpoint, FIELDS))
    if changes:
        record(actor, "webhook.change", endpoint, changes)
    return endpoint


@transaction.atomic
def do_rotate_secret(actor: Actor, endpoint: Endpoint) -> Endpoint:
    """A new secret signs from now on; the previous one signs too for ``ROTATION_OVERLAP``."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.save(
        update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_until"]
    )
    record(actor, "webhook.rotate", endpoint, {"secret": ["•••", "•••"]})
    return endpoint


@transaction.atomic
def do_replay(actor: Actor, endpoint: Endpoint, message: Message | None = None) -> int:
    """Sends again one message, or every failed message of the endpoint; returns how many."""
    messages = Message.objects.filter(endpoint=endpoint)
    if message is not None:
        messages = messages.filter(pk=message.pk)
    else:
        messages = messages.filter(state=MessageState.FAILED)
    count = messages.update(
        state=MessageState.PENDING, next_attempt_at=timezone.now(), first_failed_at=None
    )
    if count:
        record(actor, "webhook.replay", endpoint, {"replayed": [0, count]})
    return count


@transaction.atomic
def do_delete_endpoint(actor: Actor, endpoint: Endpoint) -> None:
    record(actor, "webhook.delete", endpoint, diff(snapshot(endpoint, FIELDS), {}))
    endpoint.delete()


FEED_FIELDS = ["enabled", "keep_days"]
MAX_FEED_DAYS = 366


@transaction.atomic
def do_set_feed(actor: Actor, *, enabled: bool | None = None, keep_days: int | None = None) -> Feed:
    """Turns the event feed on or off and sets how long it keeps events (1 to 366 days). Only
    events recorded while it is on are in it."""
    Feed.load()
    feed = Feed.objects.select_for_update().get(pk=1)
    before = snapshot(feed, FEED_FIELDS)
    if keep_days is not None:
        if not 1 <= keep_days <= MAX_FEED_DAYS:
            raise ValidationError({"keep_days": [f"from 1 to {MAX_FEED_DAYS} days"]})
        feed.keep_days = keep_days
    if enabled is not None:
        feed.enabled = enabled
    feed.save()
    changes = diff(before, snapshot(feed, FEED_FIELDS))
    if changes:
        record(actor, "event_feed.change", feed, changes)
    return feed

"""The worker's webhook loop: captured events fanned out to endpoints (and to the event feed,
while it is on), then delivered.

Delivery is at least once: a message is claimed (its next attempt pushed past the claim time,
so no other worker takes it), POSTed, and recorded; a worker that dies between the POST and the
record sends it again after the claim expires. Messages about one object (a delivery, a
conversation, a campaign) go out in the order their events were recorded: only the oldest
pending message of each object and endpoint is claimed, so a failing one holds back the later
ones of its object, not the others. A failed attempt is retried after growing waits
(``BACKOFF_SECONDS``) for ``RETRY_PERIOD``; then the message is given up (it can be replayed).
An endpoint that has not accepted anything for ``RETRY_PERIOD`` is disabled and the admins are
told by email. Requests run in a thread pool with short timeouts and a cap per endpoint, so a
slow or dead receiver delays neither the others nor sending, which never waits for webhooks.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from herald import __version__
from herald.accounts.models import Role, User
from herald.audit.actions import record
from herald.audit.actors import Actor
from herald.webhooks import signing
from herald.webhooks.events import BUILDERS
from herald.webhooks.models import Captured, Endpoint, Feed, FeedEvent, Message, MessageState

logger = logging.getLogger(__name__)

LOOP_INTERVAL = 0.25  # seconds a worker's loop waits when nothing was due
FAN_OUT_BATCH = 1000
FAN_OUT_LOCK = 0x68657261  # the advisory lock that makes fan-outs take turns ("hera")
DELIVER_BATCH = 500
THREADS = 16
PER_ENDPOINT = 8  # requests in flight to one endpoint at most
CLAIM = timedelta(seconds=120)  # longer than a request may take
TIMEOUT = urllib3.Timeout(connect=3.0, read=10.0)
RESPONSE_BYTES = 500
DRAIN_BYTES = 64 * 1024
RETRY_PERIOD = timedelta(days=3)
BACKOFF_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200]
_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _http() -> urllib3.PoolManager:
    """The process's connection pool (keep-alive per receiver; urllib3 is twice as fast as
    httpx here, measured with bench/webhooks.py)."""
    global _pool  # noqa: PLW0603 - one connection pool per process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = urllib3.PoolManager(
                num_pools=100,
                maxsize=PER_ENDPOINT,
                block=False,
                timeout=TIMEOUT,
                retries=False,
            )
        return _pool


PRUNE_EVERY = 60.0  # seconds between two prunings of the log, per process
PRUNE_BATCH = 10_000
_pruned_at = 0.0


def step() -> bool:
    """One turn of the worker's loop; True when more is waiting."""
    global _pruned_at  # noqa: PLW0603 - a per-process timer
    fanned = fan_out()
    sent = deliver_due()
    if time.monotonic() - _pruned_at > PRUNE_EVERY:
        _pruned_at = time.monotonic()
        prune()
    return fanned == FAN_OUT_BATCH or sent == DELIVER_BATCH


def prune(now: datetime | None = None) -> int:
    """Deletes delivered messages older than ``WEBHOOK_LOG_DAYS`` and feed events older than
    the feed keeps them (a batch of each at a time); returns how many rows went."""
    now = now or timezone.now()
    before = now - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    old = Message.objects.filter(state=MessageState.DELIVERED, delivered_at__lt=before)
    ids = list(old.values_list("id", flat=True)[:PRUNE_BATCH])
    gone = Message.objects.filter(pk__in=ids).delete()[0] if ids else 0
    kept_from = now - timedelta(days=Feed.load().keep_days)
    feed_ids = list(
        FeedEvent.objects.filter(added_at__lt=kept_from).values_list("id", flat=True)[:PRUNE_BATCH]
    )
    if feed_ids:
        gone += FeedEvent.objects.filter(pk__in=feed_ids).delete()[0]
    return gone


def fan_out() -> int:
    """Turns up to ``FAN_OUT_BATCH`` captured events into messages, one per subscribed
    endpoint; returns how many events were taken."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One fan-out at a time (SQLite has one writer anyway): feed events then become
            # visible in id order, so a reader paging by id never skips one committed late.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FAN_OUT_LOCK])
        rows = list(Captured.objects.order_by("id")[:FAN_OUT_BATCH])
        if not rows:
            return 0
        endpoints = list(Endpoint.objects.filter(active=True))
        feed = Feed.objects.filter(enabled=True).exists()
        ids: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            ids[row.source].append(row.row_id)
        built = {source: BUILDERS[source](row_ids) for source, row_ids in ids.items()}
        messages = []
        feed_events = []
        for row in rows:
            item = built[row.source].get(row.row_id)
            if item is None:  # gone since (an erased contact's events stay, a deleted list's not)
                continue
            event_type, object_key, payload = item
            if feed:
                feed_events.append(
                    FeedEvent(event_type=event_type, object_key=object_key, payload=payload)
                )
            messages += [
                Message(
                    endpoint=endpoint,
                    message_id=f"msg_{uuid.uuid4().hex}",
                    seq=row.pk,
                    event_type=event_type,
                    object_key=object_key,
                    payload=payload,
                )
                for endpoint in endpoints
                if endpoint.wants(event_type)
            ]
        Message.objects.bulk_create(messages, batch_size=500)
        FeedEvent.objects.bulk_create(feed_events, batch_size=500)
        Captured.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return len(rows)


def _claim(now: datetime) -> list[Message]:
    """Due messages whose object has no earlier message waiting (for a retry, or in another
    worker's hands: a claim pushes the next attempt past ``now``)."""
    earlier = Message.objects.filter(
        endpoint=OuterRef("endpoint"),
        object_key=OuterRef("object_key"),
        state=MessageState.PENDING,
        seq__lt=OuterRef("seq"),
        next_attempt_at__gt=now,
    )
    with transaction.atomic():
        ids = list(
            Message.objects.filter(
                state=MessageState.PENDING, next_attempt_at__lte=now, endpoint__active=True
            )
            .exclude(Exists(earlier))
            .order_by("seq")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:DELIVER_BATCH]
        )
        Message.objects.filter(pk__in=ids).update(next_attempt_at=now + CLAIM)
    return list(Message.objects.filter(pk__in=ids).select_related("endpoint").order_by("seq"))


@dataclass
class Outcome:
    status: int | None
    response: str
    error: str

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


NOT_TRIED = Outcome(None, "", "")  # behind a failed message of its object: not sent this turn


def _secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    valid = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > now:
        valid.append(endpoint.previous_secret)
    return valid


def _post(message: Message, keys: list[str]) -> Outcome:
    body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.headers(keys, message.message_id, int(time.time()), body)
    headers["content-type"] = "application/json"
    headers["user-agent"] = f"Herald-Webhooks/{__version__}"
    try:
        answer = _http().request(
            "POST",
            message.endpoint.url,
            body=body,
            headers=headers,
            redirect=False,
            preload_content=False,
        )
    except (urllib3.exceptions.HTTPError, ValueError) as exc:  # ValueError: an unusable URL
        return Outcome(None, "", f"{type(exc).__name__}: {exc}"[:300])
    try:
        first = answer.read(RESPONSE_BYTES)
        rest = answer.length_remaining
        if rest is not None and rest <= DRAIN_BYTES:
            answer.drain_conn()  # read (not kept), so that the connection is used again
        else:
            answer.close()  # a long or open-ended answer: the connection goes, not the time
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(answer.status, "", f"{type(exc).__name__}: {exc}"[:300])
    finally:
        answer.release_conn()
    return Outcome(answer.status, first.decode("utf-8", "replace"), "")


def _send_all(messages: list[Message], now: datetime) -> dict[int, Outcome]:
    """Each object's messages in order, one after the other, up to the first refused; objects
    side by side in a thread pool, at most ``PER_ENDPOINT`` requests to one endpoint at once."""
    gates = {m.endpoint_id: threading.Semaphore(PER_ENDPOINT) for m in messages}
    endpoints = {m.endpoint_id: m.endpoint for m in messages}
    keys = {pk: _secrets(endpoint, now) for pk, endpoint in endpoints.items()}  # decrypted once
    chains: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for message in messages:  # in seq order
        chains[(message.endpoint_id, message.object_key)].append(message)

    def send(chain: list[Message]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        for message in chain:
            with gates[message.endpoint_id]:
                outcome = _post(message, keys[message.endpoint_id])
            outcomes[message.pk] = outcome
            if not outcome.accepted:
                break
        return outcomes

    results: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="webhook") as pool:
        for outcomes in pool.map(send, chains.values()):
            results.update(outcomes)
    return results


def deliver_due(now: datetime | None = None) -> int:
    """Sends what is due (the oldest pending message of each object); returns how many."""
    now = now or timezone.now()
    messages = _claim(now)
    if not messages:
        return 0
    outcomes = _send_all(messages, now)
    _record(messages, outcomes, now)
    return len(messages)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


def _record(messages: list[Message], outcomes: dict[int, Outcome], now: datetime) -> None:
    """Writes the attempts: accepted messages in a few statements (grouped by the answer, which
    is usually the same), refused ones with their next try."""
    accepted: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    refused: list[Message] = []
    not_tried: list[int] = []
    for message in messages:
        outcome = outcomes.get(message.pk, NOT_TRIED)
        if outcome is NOT_TRIED:
            not_tried.append(message.pk)  # claimable again once the one before it is through
        elif outcome.accepted:
            accepted[(outcome.status, outcome.response)].append(message.pk)
        else:
            message.attempts += 1
            message.last_attempt_at = now
            message.last_status = outcome.status
            message.last_response = outcome.response
            message.last_error = outcome.error
            message.first_failed_at = message.first_failed_at or now
            if now - message.first_failed_at >= RETRY_PERIOD:
                message.state = MessageState.FAILED
            else:
                message.next_attempt_at = now + backoff(message.attempts)
            refused.append(message)
    delivered = {pk for ids in accepted.values() for pk in ids}
    endpoints_ok = {m.endpoint_id for m in messages if m.pk in delivered}
    endpoints_failing = {m.endpoint_id for m in refused} - endpoints_ok
    with transaction.atomic():
        for (status, response), ids in accepted.items():
            Message.objects.filter(pk__in=ids).update(
                state=MessageState.DELIVERED,
                delivered_at=now,
                attempts=F("attempts") + 1,
                last_attempt_at=now,
                last_status=status,
                last_response=response,
                last_error="",
            )
        Message.objects.filter(pk__in=not_tried).update(next_attempt_at=now)
        Message.objects.bulk_update(refused, REFUSED_FIELDS, batch_size=500)
        Endpoint.objects.filter(pk__in=endpoints_ok).update(failing_since=None)
        Endpoint.objects.filter(pk__in=endpoints_failing, failing_since__isnull=True).update(
            failing_since=now
        )
    for endpoint in Endpoint.objects.filter(
        pk__in=endpoints_failing, active=True, failing_since__lte=now - RETRY_PERIOD
    ):
        _disable(endpoint, now)


REFUSED_FIELDS = [
    "attempts",
    "last_attempt_at",
    "last_status",
    "last_response",
    "last_error",
    "state",
    "first_failed_at",
    "next_attempt_at",
]


def _disable(endpoint: Endpoint, now: datetime) -> None:
    reason = (
        f"disabled on {now:%Y-%m-%d %H:%M} UTC: nothing accepted since "
        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason=reason)
    record(Actor.system("webhooks"), "webhook.disable", endpoint, {"active": [True, False]})
    admins = list(
        User.objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True)
    )
    logger.warning("webhook endpoint disabled", extra={"url": endpoint.url, "reason": reason})
    if admins:
        send_mail(
            "Herald: a webhook endpoint was disabled",
            f"The webhook endpoint {endpoint.url} has been {reason}.\n\n"
            "Its messages are kept: fix the receiver, turn the endpoint on again and replay "
            "the failed messages (Settings, Webhooks; or POST /api/v1/webhooks/{id}/replay).\n",
            None,
            admins,
            fail_silently=True,
        )

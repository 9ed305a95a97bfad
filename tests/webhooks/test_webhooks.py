"""Webhooks as a receiver meets them: a real HTTP server on loopback gets each event, signed as
Standard Webhooks says (checked with the ``standardwebhooks`` library), in order per object,
again after failures with growing waits, and an endpoint that fails for three days is disabled
with a notice to admins. Time is moved forward by passing ``now``; nothing sleeps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from herald.audit.actors import Actor
from herald.campaigns.models import Delivery, Event
from herald.webhooks import actions, dispatch
from herald.webhooks.models import Captured, Endpoint, FeedEvent, Message, MessageState
from tests import test_access_matrix as objects
from tests.campaigns import conftest as campaign_fixtures
from tests.inbound import test_processing

smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign
sent = test_processing.sent

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


class Receiver:
    """A loopback HTTP server that records what it receives and answers the statuses given."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in turn; 200 once they run out
        self.refuse_for = ""  # ... to the messages about this address only
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                concerned = receiver.refuse_for.encode() in body
                status = receiver.statuses.pop(0) if receiver.statuses and concerned else 200
                receiver.received.append(
                    {"headers": dict(self.headers.items()), "body": body, "status": status}
                )
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try later")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received if r["status"] < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


@pytest.fixture
def delivery(db: None) -> Delivery:
    return Delivery.objects.create(
        campaign=objects._campaign(),
        contact=objects._contact(),
        email="m@example.org",
        state="sent",
        sent_at=timezone.now(),
    )


def record_events(delivery: Delivery, *kinds: str) -> None:
    for kind in kinds:
        Event.objects.create(campaign=delivery.campaign, delivery=delivery, kind=kind)


def run() -> None:
    """What a worker's webhook loop does in one turn."""
    dispatch.fan_out()
    dispatch.deliver_due(timezone.now())


def test_events_arrive_signed_as_standard_webhooks_say(receiver: Receiver, delivery: Delivery):
    endpoint = actions.do_create_endpoint(ADMIN, receiver.url)
    record_events(delivery, "sent", "opened")
    run()
    assert [m["type"] for m in receiver.accepted()] == ["delivery.sent", "delivery.opened"]
    first = receiver.received[0]
    verified = Webhook(endpoint.secret).verify(first["body"], first["headers"])
    assert verified["data"]["email"] == "m@example.org"
    assert verified["data"]["delivery_id"] == delivery.pk
    with pytest.raises(WebhookVerificationError):  # a body changed on the way is refused
        Webhook(endpoint.secret).verify(first["body"] + b" ", first["headers"])
    assert Message.objects.filter(state=MessageState.DELIVERED).count() == 2


def test_nothing_is_captured_while_no_endpoint_listens(delivery: Delivery):
    record_events(delivery, "sent")
    assert not Captured.objects.exists()


def test_an_endpoint_gets_only_the_types_it_subscribed_to(receiver: Receiver, delivery: Delivery):
    actions.do_create_endpoint(ADMIN, receiver.url, event_types=["delivery.clicked"])
    record_events(delivery, "sent", "opened", "clicked")
    run()
    assert [m["type"] for m in receiver.accepted()] == ["delivery.clicked"]


def test_a_failed_message_is_retried_with_growing_waits_and_holds_back_its_object(
    receiver: Receiver, delivery: Delivery
):
    actions.do_create_endpoint(ADMIN, receiver.url)
    other = Delivery.objects.create(
        campaign=delivery.campaign, contact=delivery.contact, email="o@example.org", state="sent"
    )
    receiver.statuses = [500]  # the first request about m@example.org fails
    receiver.refuse_for = "m@example.org"
    record_events(delivery, "sent", "opened", "clicked")
    record_events(other, "sent")
    dispatch.fan_out()
    now = timezone.now()
    dispatch.deliver_due(now)
    # delivery's "sent" failed: its "opened" and "clicked" wait; the other delivery's went out.
    assert [m["data"]["email"] for m in receiver.accepted()] == ["o@example.org"]
    failed = Message.objects.get(event_type="delivery.sent", object_key=f"delivery:{delivery.pk}")
    assert failed.attempts == 1
    assert failed.last_status == 500
    assert failed.last_response == "try later"
    assert failed.next_attempt_at == now + timedelta(seconds=5)
    dispatch.deliver_due(now + timedelta(seconds=4))  # not yet due
    assert len(receiver.received) == 2
    for turn in range(1, 4):  # due again: sent, then opened, then clicked, in order
        dispatch.deliver_due(now + timedelta(seconds=5 * turn))
    ours = [m["type"] for m in receiver.accepted() if m["data"]["email"] == "m@example.org"]
    assert ours == ["delivery.sent", "delivery.opened", "delivery.clicked"]
    assert dispatch.backoff(2) > dispatch.backoff(1)


def test_after_three_days_of_failures_the_endpoint_is_disabled_and_admins_told(
    receiver: Receiver, delivery: Delivery, ada
):
    endpoint = actions.do_create_endpoint(ADMIN, receiver.url)
    receiver.statuses = [503] * 50
    record_events(delivery, "sent")
    dispatch.fan_out()
    now = timezone.now()
    dispatch.deliver_due(now)
    later = now
    while Endpoint.objects.get(pk=endpoint.pk).active and later < now + timedelta(days=4):
        later = Message.objects.get().next_attempt_at
        dispatch.deliver_due(later)
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert "nothing accepted since" in endpoint.disabled_reason
    message = Message.objects.get()
    assert message.state == MessageState.FAILED
    assert later - now >= timedelta(days=3)
    assert any(ada.email in m.to and endpoint.url in m.body for m in mail.outbox)
    # Fixed: turned on again and replayed, the message arrives.
    receiver.statuses = []
    actions.do_change_endpoint(ADMIN, endpoint, active=True)
    assert actions.do_replay(ADMIN, endpoint) == 1
    dispatch.deliver_due(timezone.now())
    assert [m["type"] for m in receiver.accepted()] == ["delivery.sent"]


def test_during_a_rotation_both_secrets_sign(receiver: Receiver, delivery: Delivery):
    endpoint = actions.do_create_endpoint(ADMIN, receiver.url)
    old = endpoint.secret
    endpoint = actions.do_rotate_secret(ADMIN, endpoint)
    record_events(delivery, "sent")
    run()
    request = receiver.received[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request["body"], request["headers"])  # the receiver not yet switched
    Webhook(endpoint.secret).verify(request["body"], request["headers"])  # ... and switched


def test_a_dead_receiver_is_recorded_not_waited_for(delivery: Delivery):
    actions.do_create_endpoint(ADMIN, "http://127.0.0.1:9/nobody-listens")
    record_events(delivery, "sent")
    run()
    message = Message.objects.get()
    assert message.state == MessageState.PENDING
    assert message.last_status is None
    assert "Connect" in message.last_error


def test_conversations_and_campaigns_have_their_events(receiver: Receiver, delivery: Delivery):
    actions.do_create_endpoint(ADMIN, receiver.url)
    Event.objects.create(campaign=delivery.campaign, kind="paused", detail="by mike")
    run()
    (paused,) = receiver.accepted()
    assert paused["type"] == "campaign.paused"
    assert paused["data"]["campaign_id"] == delivery.campaign_id


def test_the_api_manages_endpoints_for_admins_only(api_for, ada, mike, receiver: Receiver):
    created = api_for(ada).post(
        "/api/v1/webhooks",
        {"url": receiver.url, "event_types": ["delivery.opened"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    refused = api_for(ada).post(
        "/api/v1/webhooks",
        {"url": "ftp://example.org", "event_types": ["delivery.teleported"]},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert set(refused.json()["detail"]) == {"url", "event_types"}
    assert api_for(mike).get("/api/v1/webhooks").status_code == 403
    endpoint_id = created.json()["id"]
    log = api_for(ada).get(f"/api/v1/webhooks/{endpoint_id}/messages")
    assert log.status_code == 200
    assert log.json() == []


def test_the_pages_show_the_secret_and_the_log_and_replay(client_for, ada, delivery, receiver):
    client = client_for(ada)
    answer = client.post("/settings/webhooks/", {"url": receiver.url, "active": "on"})
    endpoint = Endpoint.objects.get()
    assert answer["Location"] == f"/settings/webhooks/{endpoint.pk}/"
    page = client.get(answer["Location"]).content.decode()
    assert endpoint.secret in page
    receiver.statuses = [500] * 3
    receiver.refuse_for = "m@example.org"
    record_events(delivery, "sent")
    run()
    page = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "try later" in page  # the receiver's answer, in the log
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(state=MessageState.FAILED)
    client.post(f"/settings/webhooks/{endpoint.pk}/replay/")
    assert Message.objects.get().state == MessageState.PENDING
    client.post(f"/settings/webhooks/{endpoint.pk}/rotate/")
    assert Endpoint.objects.get().previous_secret == endpoint.secret


def test_delivered_messages_leave_the_log_after_a_week(receiver: Receiver, delivery: Delivery):
    actions.do_create_endpoint(ADMIN, receiver.url)
    record_events(delivery, "sent")
    run()
    assert dispatch.prune(timezone.now() + timedelta(days=6)) == 0
    assert dispatch.prune(timezone.now() + timedelta(days=8)) == 1
    assert not Message.objects.exists()


def test_erasing_a_contact_removes_the_webhook_messages_and_feed_events_about_it(
    receiver: Receiver, delivery: Delivery
):
    from herald.contacts.erasure import do_erase_contact

    actions.do_create_endpoint(ADMIN, receiver.url)
    receiver.statuses = [500]
    receiver.refuse_for = "m@example.org"
    record_events(delivery, "sent")
    run()
    actions.do_set_feed(ADMIN, enabled=True)
    record_events(delivery, "opened")
    run()
    assert FeedEvent.objects.exists()
    assert Message.objects.filter(payload__data__email="m@example.org").exists()
    do_erase_contact(ADMIN, delivery.contact)
    assert not Message.objects.exists()
    assert not FeedEvent.objects.exists()


def test_the_event_feed_pages_every_event_recorded_while_it_is_on(
    api_for, ada, mike, delivery: Delivery
):
    record_events(delivery, "sent")  # before the feed is on: not in it
    assert api_for(mike).get("/api/v1/events").status_code == 409
    assert (
        api_for(mike)
        .put("/api/v1/events/feed", {"enabled": True}, content_type="application/json")
        .status_code
        == 403
    )
    turned = api_for(ada).put(
        "/api/v1/events/feed", {"enabled": True, "keep_days": 7}, content_type="application/json"
    )
    assert turned.json() == {"enabled": True, "keep_days": 7}
    record_events(delivery, "opened", "clicked", "opened")
    Event.objects.create(campaign=delivery.campaign, kind="paused")
    dispatch.fan_out()  # no endpoint: the worker fans out for the feed alone
    client = api_for(mike)
    first = client.get("/api/v1/events", {"limit": 2}).json()
    assert [e["type"] for e in first["events"]] == ["delivery.opened", "delivery.clicked"]
    rest = client.get("/api/v1/events", {"after": first["next_after"]}).json()
    assert [e["type"] for e in rest["events"]] == ["delivery.opened", "campaign.paused"]
    assert rest["events"][0]["data"]["email"] == "m@example.org"
    empty = client.get("/api/v1/events", {"after": rest["next_after"]}).json()
    assert empty == {"events": [], "next_after": rest["next_after"]}
    clicks = client.get("/api/v1/events", {"types": "delivery.clicked"}).json()
    assert len(clicks["events"]) == 1
    assert not Message.objects.exists()  # nobody subscribed: no webhook messages
    assert dispatch.prune(timezone.now() + timedelta(days=8)) == 4  # kept 7 days


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: two fan-outs in two connections at once (SQLite has one writer, "
    "so they cannot overlap there); the PostgreSQL pass of `make test` runs it",
)
@pytest.mark.django_db(transaction=True)
def test_feed_events_committed_late_never_appear_below_ones_already_read(ada, delivery):
    """A fan-out that commits after another cannot have taken lower ids: they take turns."""
    actions.do_set_feed(ADMIN, enabled=True)
    record_events(delivery, "sent")
    first_holds_lock = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def slow_fan_out() -> None:
        from django.db import connections, transaction

        with transaction.atomic():
            dispatch.fan_out()  # inside the outer transaction: the lock is held until commit
            first_holds_lock.set()
            release.wait(10)
            order.append("first committed")
        connections.close_all()

    first = threading.Thread(target=slow_fan_out)
    first.start()
    assert first_holds_lock.wait(10)
    record_events(delivery, "opened")

    def second_fan_out() -> None:
        from django.db import connections

        dispatch.fan_out()
        order.append("second committed")
        connections.close_all()

    second = threading.Thread(target=second_fan_out)
    second.start()
    second.join(1.0)
    assert second.is_alive()  # waiting for its turn
    release.set()
    first.join(10)
    second.join(10)
    assert order == ["first committed", "second committed"]
    types = list(FeedEvent.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["delivery.sent", "delivery.opened"]


def test_the_signing_secret_is_encrypted_at_rest(receiver: Receiver):
    endpoint = actions.do_create_endpoint(ADMIN, receiver.url)
    stored = Endpoint.objects.values_list("secret_encrypted", flat=True).get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret not in stored
    assert Endpoint.objects.get().secret == endpoint.secret


def test_opt_outs_and_other_suppressions_have_their_own_types(receiver: Receiver, sent):
    """An opt-out keyword replied to a campaign message is ``suppression.opt_out``, with the
    contact it concerns; a manager's entry is ``suppression.manual``; the hashes an erasure
    leaves are nothing a receiver could use, and are not sent."""
    from herald.contacts.actions import do_add_suppression
    from herald.contacts.erasure import do_erase_contact
    from tests.inbound.conftest import receive
    from tests.inbound.test_processing import reply

    endpoint = actions.do_create_endpoint(ADMIN, receiver.url)
    delivery, message = sent
    receive(delivery.campaign.mailbox, reply(message, "STOP"))
    do_add_suppression(ADMIN, "@spam.example", reason="manual")
    run()
    suppressions = [m for m in receiver.accepted() if m["type"].startswith("suppression.")]
    opt_out, manual = suppressions
    assert opt_out["type"] == "suppression.opt_out"
    assert opt_out["data"]["value"] == "ann@example.com"
    assert opt_out["data"]["contact_id"] == delivery.contact_id
    assert manual["type"] == "suppression.manual"
    assert manual["data"]["is_domain"] is True
    first = next(r for r in receiver.received if b"suppression.opt_out" in r["body"])
    assert Webhook(endpoint.secret).verify(first["body"], first["headers"])

    do_erase_contact(ADMIN, delivery.contact)
    run()
    after = [m for m in receiver.accepted() if m["type"].startswith("suppression.")]
    assert after == suppressions  # nothing more

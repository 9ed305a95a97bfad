"""A campaign over a real SMTP server that misbehaves on request (tests/dialer/smtpd.py): every
recipient ends sent or failed — none pending, none lost, none skipped — with the server's own
words kept on the delivery and on an event per attempt."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.campaigns import actions
from herald.campaigns.models import PENDING_STATES, CampaignStatus, Delivery, Event
from herald.campaigns.queries import progress
from herald.contacts.models import ListMember, Suppression
from tests.campaigns.conftest import ACTOR, make_list, run_until

pytestmark = pytest.mark.django_db

GOOD = [f"good{i}@example.com" for i in range(5)]
SENT_AT_ONCE = ["slow@example.com", "once-drop-rcpt@example.com"]  # retried by the transport
SENT_ON_RETRY = ["once-rcpt-451@example.com", "once-data-451@example.com", "once-drop@example.com"]
BOUNCES = {  # address: (code, reply)
    "rcpt-550@example.com": (550, "5.1.1 No such user here"),
    "data-554@example.com": (554, "5.7.1 Message rejected as spam"),
    "once-data-554@example.com": (554, "5.7.1 Message rejected as spam"),
}
TEMPORARY = {  # address: (code, words of the reply)
    "rcpt-451@example.com": (451, "4.2.1 Mailbox busy, try again later"),
    "data-451@example.com": (451, "4.3.0 Temporary local problem, try later"),
    "drop@example.com": (None, "connection closed by the server"),
    "drop-rcpt@example.com": (None, "connection closed by the server"),
}
ALL = [*GOOD, *SENT_AT_ONCE, *SENT_ON_RETRY, *BOUNCES, *TEMPORARY]
TRIES = 3  # attempts of the always-failing temporary addresses before their retry time is over


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.DIALER_RETRY_MINUTES = [0.001]  # retried 60 ms later


def _pending(campaign) -> int:
    return progress(campaign.pk)["to_send"]


def test_every_recipient_ends_sent_or_failed_whatever_the_server_does(smtp, make_campaign):
    smtp.behaviour.slow_seconds = 0.2
    customers = make_list("Customers", ALL)
    campaign = make_campaign(
        [customers],
        status_map={"sent": "mailed", "failed": "undeliverable"},
        max_retry_hours=1,
        failure_percent=100,  # never auto-paused: this test is about each delivery
    )
    actions.do_start_campaign(ACTOR, campaign)
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == len(ALL)
    temporary = deliveries.filter(email__in=TEMPORARY)

    # Everything that can go has gone; the always-failing addresses keep being retried.
    dialer = run_until(
        lambda: (
            not (
                deliveries.exclude(email__in=TEMPORARY).filter(state__in=PENDING_STATES).exists()
                or temporary.filter(attempts__lt=TRIES).exists()
            )
        )
    )
    assert set(temporary.values_list("state", flat=True)) == {"deferred"}
    # Then their retry time is over (they were first tried more than max_retry_hours ago).
    tried = dict(temporary.values_list("email", "attempts"))
    temporary.update(first_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    run_until(lambda: _pending(campaign) == 0, dialer)
    dialer.close()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    counts = progress(campaign.pk)
    assert (counts["skipped"], counts["to_send"]) == (0, 0)
    assert counts["sent"] + counts["failed"] == len(ALL)
    states = dict(deliveries.values_list("email", "state"))
    should_send = {*GOOD, *SENT_AT_ONCE, *SENT_ON_RETRY}
    assert {e for e, s in states.items() if s == "sent"} == should_send
    # Every sent delivery's message really arrived, once.
    arrived = [r.rcpt_tos[0] for r in smtp.received]
    assert sorted(arrived) == sorted(should_send)

    # 'once-' temporary faults: deferred with the server's words, then sent on the retry.
    for address in SENT_ON_RETRY:
        delivery = deliveries.get(email=address)
        kinds = list(
            Event.objects.filter(delivery=delivery).order_by("id").values_list("kind", flat=True)
        )
        assert kinds == ["deferred", "sent"], address
        assert delivery.attempts == 2
        assert delivery.code == 250

    # 5xx: failed at once, the server's reply kept, the address suppressed as a hard bounce.
    for address, (code, reply) in BOUNCES.items():
        delivery = deliveries.get(email=address)
        assert (delivery.state, delivery.code, delivery.reply) == ("failed", code, reply)
        assert delivery.attempts == 1
        event = Event.objects.get(delivery=delivery)
        assert (event.kind, event.code, event.detail) == ("failed", code, f"{code} {reply}")
        suppression = Suppression.objects.get(value=address)
        assert suppression.reason == "hard_bounce"
        assert reply in suppression.note

    # 4xx, dropped connections: an event per attempt with the reply, then given up.
    for address, (code, words) in TEMPORARY.items():
        delivery = deliveries.get(email=address)
        attempts = tried[address] + 1
        assert delivery.state == "failed"
        assert delivery.attempts == attempts
        assert delivery.reason.startswith(f"gave up after {attempts} attempts: ")
        assert words in delivery.reason
        events = list(Event.objects.filter(delivery=delivery).order_by("id"))
        assert [e.kind for e in events] == ["deferred"] * (attempts - 1) + ["failed"]
        assert [e.data["attempt"] for e in events] == list(range(1, attempts + 1))
        assert all(e.code == code and words in e.detail for e in events), address
        assert not Suppression.objects.filter(value=address).exists()

    # The status mapping labelled every list member by its outcome.
    labels = dict(
        ListMember.objects.filter(contact_list=customers).values_list(
            "contact__addresses__email", "status"
        )
    )
    assert labels == {e: ("mailed" if e in should_send else "undeliverable") for e in ALL}


def test_a_contact_refused_while_the_bcc_copy_is_accepted_is_not_sent(
    smtp, make_campaign, settings
):
    settings.DIALER_RETRY_MINUTES = [10]
    customers = make_list(
        "Customers", ["rcpt-550@example.com", "rcpt-451@example.com", "ann@example.com"]
    )
    campaign = make_campaign([customers], bcc="archive@herald.test", max_retry_hours=1)
    actions.do_start_campaign(ACTOR, campaign)
    deliveries = Delivery.objects.filter(campaign=campaign)
    dialer = run_until(lambda: not deliveries.filter(state__in=("queued", "sending")).exists())
    dialer.close()
    states = {d.email: (d.state, d.code, d.reply) for d in deliveries}
    assert states == {
        "rcpt-550@example.com": ("failed", 550, "5.1.1 No such user here"),
        "rcpt-451@example.com": ("deferred", 451, "4.2.1 Mailbox busy, try again later"),
        "ann@example.com": ("sent", 250, "2.0.0 Queued as 12345"),
    }
    assert Suppression.objects.filter(value="rcpt-550@example.com").exists()
    # The archive got its copies all the same.
    assert sum("archive@herald.test" in r.rcpt_tos for r in smtp.received) == 3

"""`herald campaign start|pause|resume|cancel|status NAME` as an operator runs it."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from herald.audit.models import AuditEvent
from herald.campaigns.models import Campaign, CampaignStatus
from herald.contacts.models import Suppression
from tests.campaigns.conftest import drain, make_list

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("campaign", *args, stdout=out)
    return out.getvalue()


def _fails(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        call_command("campaign", *args)
    assert exited.value.code != 0
    return capsys.readouterr().err.strip()


def test_a_campaign_is_started_paused_resumed_and_followed_from_the_shell(make_campaign, smtp):
    Suppression.objects.create(value="bob@example.com", reason="unsubscribed", source="user")
    make_campaign([make_list("Customers", ["ann@example.com", "bob@example.com"])])

    assert _run("start", "Spring offer") == 'Campaign "Spring offer" started: 1 to send of 2.\n'
    assert _run("pause", "Spring offer", "--reason", "waiting for legal") == (
        'Campaign "Spring offer" paused: 1 to send of 2.\n'
    )
    status = _run("status", "Spring offer")
    assert status.splitlines()[:4] == [
        "Spring offer: paused",
        "  why: waiting for legal",
        "  mailbox Offers, template T1-c, lists Customers",
        "  2 deliveries: 0 sent, 1 to send (0 deferred), 0 failed, 0 bounced, 1 skipped",
    ]
    assert "  skipped, suppressed: unsubscribed: 1" in status.splitlines()

    _run("resume", "Spring offer")
    drain().close()
    summary = json.loads(_run("status", "Spring offer", "--json"))
    assert summary["status"] == "completed"
    assert summary["counts"]["total"] == 2
    assert summary["counts"]["sent"] == 1
    assert summary["counts"]["to_send"] == 0
    assert summary["skipped_reasons"] == {"suppressed: unsubscribed": 1}
    assert [r.rcpt_tos for r in smtp.received] == [["ann@example.com"]]
    # The history says the command line did it.
    actors = set(
        AuditEvent.objects.filter(action__startswith="campaign.").values_list(
            "actor_label", flat=True
        )
    )
    assert "command line" in actors


def test_cancel_from_the_shell_skips_what_was_not_sent(make_campaign):
    make_campaign([make_list("Customers", ["ann@example.com", "bob@example.com"])])
    _run("start", "Spring offer")
    assert _run("cancel", "Spring offer") == 'Campaign "Spring offer" cancelled: 0 to send of 2.\n'
    assert Campaign.objects.get().status == CampaignStatus.CANCELLED


def test_an_unknown_name_says_so(capsys, db):
    assert _fails(capsys, "status", "Nope") == 'herald: no campaign named "Nope"'


def test_a_refused_start_prints_the_preflight_problems(capsys, make_campaign):
    make_campaign([make_list("Nobody", [])], html="<p>Hi</p>")
    error = _fails(capsys, "start", "Spring offer")
    assert error.startswith('herald: campaign "Spring offer" cannot start: ')
    assert "The campaign's lists are empty." in error
    assert "The template has no unsubscribe link" in error
    assert Campaign.objects.get().status == CampaignStatus.DRAFT


def test_resuming_a_campaign_that_is_not_paused_says_why(capsys, make_campaign):
    make_campaign([make_list("Customers", ["ann@example.com"])])
    error = _fails(capsys, "resume", "Spring offer")
    assert error == "herald: Only a paused campaign can be resumed; this one is draft."


def test_a_dated_campaign_is_scheduled_for_its_time(make_campaign):
    import datetime as dt

    at = dt.datetime(2030, 5, 2, 7, 0, tzinfo=dt.UTC)
    make_campaign([make_list("Customers", ["ann@example.com"])], start_mode="at", start_at=at)
    assert _run("start", "Spring offer") == (
        'Campaign "Spring offer" scheduled for 2030-05-02 07:00 UTC.\n'
    )
    assert "  starts at 2030-05-02 07:00 UTC" in _run("status", "Spring offer").splitlines()

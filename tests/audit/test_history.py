"""The history page: every change listed newest first, with search, filters and paging."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from herald.accounts import actions
from herald.accounts.models import Role
from herald.audit import queries
from herald.audit.actions import record
from herald.audit.actors import Actor
from herald.audit.models import AuditEvent
from herald.mailboxes.actions import ensure_sandbox_mailbox

pytestmark = pytest.mark.django_db


def _rows(client, **params) -> list[str]:
    """The history page's rows as "action object_repr" strings, in page order."""
    response = client.get("/history/", params)
    assert response.status_code == 200
    page = response.content.decode()
    return [
        f"{action} {obj.strip()}"
        for action, obj in re.findall(
            r"<td><code>([^<]+)</code></td>\s*<td>[^#<]*#\S* ([^<]*)</td>", page
        )
    ]


@pytest.fixture
def history(alice, mike, ada):
    """A small history: ada configures things, mike changes the account, the CLI adds a user."""
    actions.do_update_account(Actor.for_user(ada), company_name="Acme Energy")
    actions.do_change_user(Actor.for_user(ada), alice, name="Alice Martin")
    actions.do_change_user(Actor.for_user(ada), mike, role=Role.ADMIN)
    actions.do_update_account(Actor.for_user(mike), phone="+33 1 23 45 67 89")
    actions.do_create_user(Actor.system("command line"), email="zoe@example.com", role=Role.AGENT)
    ensure_sandbox_mailbox()
    return list(AuditEvent.objects.order_by("-id"))


def test_a_manager_sees_every_change_newest_first_with_before_and_after(client_for, mike, history):
    response = client_for(mike).get("/history/")
    page = response.content.decode()
    assert _rows(client_for(mike)) == [
        "mailbox.create Sandbox",
        "user.create zoe@example.com",
        "account.change Acme Energy",
        "user.change mike",
        "user.change Alice Martin",
        "account.change Acme Energy",
    ]
    assert (
        '<del>manager</del> <span class="flow" aria-hidden="true"></span> <ins>admin</ins>' in page
    )
    assert "command line" in page


def test_agents_cannot_read_the_history(client_for, alice):
    assert client_for(alice).get("/history/").status_code == 403


def test_search_finds_whole_words_of_who_what_and_which(client_for, mike, history):
    client = client_for(mike)
    assert _rows(client, q="zoe") == ["user.create zoe@example.com"]
    assert _rows(client, q="Command Line") == ["user.create zoe@example.com"]
    # mike did the phone change; ada made him an admin
    assert _rows(client, q="mike@example.com") == ["account.change Acme Energy", "user.change mike"]
    assert _rows(client, q="account ada") == ["account.change Acme Energy"]
    assert _rows(client, q="sandbox") == ["mailbox.create Sandbox"]
    assert _rows(client, q="nothing-like-this") == []
    assert (
        "Nothing matches." in client.get("/history/", {"q": "nothing-like-this"}).content.decode()
    )


def test_filters_by_object_type_object_and_user(client_for, mike, alice, ada, history):
    client = client_for(mike)
    assert _rows(client, type="account") == ["account.change Acme Energy"] * 2
    assert _rows(client, type="user", object=str(alice.pk)) == ["user.change Alice Martin"]
    assert _rows(client, user=str(mike.pk)) == ["account.change Acme Energy"]
    assert len(_rows(client, user=str(ada.pk))) == 3
    assert _rows(client, type="user", user=str(ada.pk), q="mike") == ["user.change mike"]
    page = client.get("/history/").content.decode()
    assert set(re.findall(r'<option value="(\w+)"', page)) >= {"account", "user", "mailbox"}


def test_filters_by_date_range_whole_days(client_for, mike):
    # Events recorded over a month, in time order as always (ids follow time).
    today = timezone.now()
    for days_ago in (30, 10, 10, 3, 1):
        with transaction.atomic():
            event = record(
                Actor.system("test"),
                "campaign.start",
                object_type="campaign",
                object_repr=f"{days_ago} days ago",
            )
        AuditEvent.objects.filter(pk=event.pk).update(at=today - timedelta(days=days_ago))

    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).date().isoformat()

    client = client_for(mike)
    assert _rows(client, since=day(10), until=day(10)) == ["campaign.start 10 days ago"] * 2
    assert _rows(client, since=day(10), until=day(3)) == [
        "campaign.start 3 days ago",
        "campaign.start 10 days ago",
        "campaign.start 10 days ago",
    ]
    assert _rows(client, since=day(2)) == ["campaign.start 1 days ago"]
    assert _rows(client, until=day(20)) == ["campaign.start 30 days ago"]
    assert _rows(client, since=day(0)) == []
    assert len(_rows(client, since="not-a-date")) == 5  # a malformed date is no filter


def _bulk(n: int, **fields) -> None:
    with_defaults = {"object_type": "campaign", "action": "campaign.change", **fields}
    for i in range(n):
        record(
            Actor.system("test"),
            with_defaults["action"],
            object_type=with_defaults["object_type"],
            object_id=str(i),
            object_repr=f"{with_defaults['object_type'].title()} {i}",
        )


def test_pages_go_back_in_time_by_id_without_gaps_or_repeats(client_for, mike):
    with transaction.atomic():
        _bulk(120)
    client = client_for(mike)
    response = client.get("/history/")
    seen = []
    pages = 0
    while True:
        page = response.content.decode()
        seen += re.findall(r"Campaign (\d+)</td>", page)
        pages += 1
        older = re.search(r'href="\?([^"]+)" rel="next"', page)
        if older is None:
            break
        response = client.get("/history/?" + older.group(1).replace("&amp;", "&"))
    assert pages == 3
    assert seen == [str(i) for i in range(119, -1, -1)]


def test_paging_keeps_the_filters(client_for, mike):
    with transaction.atomic():
        _bulk(60, object_type="template", action="template.change")
        _bulk(60)
    flt = queries.HistoryFilter(search="campaign")
    first, before = queries.history(flt)
    assert before is not None
    second, after = queries.history(flt, before_id=before)
    assert after is None
    assert len(first) == 50
    assert len(second) == 10
    assert all(e.object_type == "campaign" for e in first + second)
    assert first[-1].id > second[0].id

    page = client_for(mike).get("/history/", {"q": "campaign"}).content.decode()
    older = re.search(r'href="\?([^"]+)" rel="next"', page).group(1)
    assert "q=campaign" in older


def test_a_search_of_several_words_needs_all_of_them(mike):
    with transaction.atomic():
        record(
            Actor.system("test"),
            "campaign.start",
            object_type="campaign",
            object_repr="Winter offer",
        )
        record(
            Actor.system("test"),
            "campaign.start",
            object_type="campaign",
            object_repr="Winter survey",
        )
        record(
            Actor.system("test"),
            "campaign.pause",
            object_type="campaign",
            object_repr="Winter offer",
        )
    found, _ = queries.history(queries.HistoryFilter(search="offer START winter"))
    assert [(e.action, e.object_repr) for e in found] == [("campaign.start", "Winter offer")]

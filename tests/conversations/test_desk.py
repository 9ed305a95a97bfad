"""The agent desk's operations against a real SMTP server: taking, answering with the right
threading, the CC/BCC rule, forwards, notes, the lifecycle, wrap-up, agent-started conversations,
retries and failures as the customer and the supervisor would notice them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from herald.accounts.models import Role, User
from herald.campaigns import tokens
from herald.contacts.actions import do_add_suppression
from herald.conversations import actions, queries
from herald.conversations.actions import Answer, Refused, Upload
from herald.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
    WrapUpReason,
)
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from tests.conversations.conftest import (
    ACTOR,
    customer_mail,
    last_received,
    reply_to,
    send_all,
)
from tests.inbound.conftest import receive

pytestmark = pytest.mark.django_db


def test_an_agent_takes_and_answers_and_the_customers_next_reply_lands_in_the_same_conversation(
    desk, alice, smtp
):
    conversation = customer_mail(desk)
    with pytest.raises(Refused, match="Take the conversation"):
        actions.do_answer(alice, conversation, Answer("reply", "<p>Hi</p>"))
    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "<p>Your order <b>ships</b> today.</p>"))
    assert send_all() == ["sent"]

    sent = last_received(smtp)
    assert sent["To"] == "carol@example.org"
    assert sent["Subject"] == "Re: My order"
    first = Message.objects.filter(conversation=conversation, direction="in").get()
    assert sent["In-Reply-To"] == first.message_id
    assert first.message_id in sent["References"]
    token = sent["Reply-To"].split("+r-")[1].split("@")[0]
    assert tokens.desk_message_id(token) == Message.objects.get(kind="agent").pk
    assert "ships" in sent.get_body(("plain",)).get_content()
    stored = Message.objects.get(kind="agent")
    assert bytes(stored.raw) == smtp.received[-1].content  # kept exactly as sent

    receive(desk, reply_to(sent, "Thanks, that is quick!"))
    assert Conversation.objects.count() == 1
    texts = list(conversation.messages.order_by("id").values_list("text", flat=True))
    assert texts[-1].startswith("Thanks, that is quick!")
    assert "earlier text" not in texts[-1]  # the quoted history is folded away


def test_a_reply_naming_only_the_reply_token_still_finds_its_conversation(desk, alice, smtp):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "Tell me more."))
    send_all()
    sent = last_received(smtp)
    bare = (
        f"From: carol@example.org\r\nTo: {sent['Reply-To']}\r\nSubject: another topic\r\n"
        "Message-ID: <no-threading@example.org>\r\n\r\nHere is more.\r\n"
    ).encode()
    receive(desk, bare)
    assert conversation.messages.filter(direction="in").count() == 2


def test_of_two_agents_taking_one_conversation_the_second_is_told_who_has_it(desk, alice, bob):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    with pytest.raises(Refused, match="alice took this conversation first"):
        actions.do_take(bob, conversation)
    conversation.refresh_from_db()
    assert conversation.assignee == alice
    assert actions.may_answer(bob, conversation) == "alice holds this conversation."


def test_in_open_mode_any_member_answers_and_nobody_takes(desk, alice, bob, mike, smtp):
    do_save_mailbox(ACTOR, desk, {"desk_mode": "open"}, secrets={})
    conversation = customer_mail(desk)
    conversation.refresh_from_db()
    with pytest.raises(Refused, match="nobody takes"):
        actions.do_take(alice, conversation)
    actions.do_answer(bob, conversation, Answer("reply", "Bob here."))
    actions.do_answer(alice, conversation, Answer("reply", "Alice here."))
    assert send_all() == ["sent", "sent"]
    assert conversation.assignee is None


def test_an_agent_outside_the_mailbox_neither_sees_nor_answers(desk, smtp, ada):
    from herald.accounts.models import Role, User

    outsider = User.objects.create_user(email="out@example.com", role=Role.AGENT)
    conversation = customer_mail(desk)
    assert queries.conversation_for(outsider, conversation.pk) is None
    assert list(queries.inbox(outsider, queries.InboxFilter(view="all"))) == []
    with pytest.raises(Refused):
        actions.do_take(outsider, conversation)
    assert queries.conversation_for(ada, conversation.pk) is not None  # managers see all


def test_a_manager_reassigns_to_a_member_and_not_to_a_stranger(desk, alice, bob, mike):
    from herald.accounts.models import Role, User

    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_assign(mike, conversation, bob)
    conversation.refresh_from_db()
    assert conversation.assignee == bob
    stranger = User.objects.create_user(email="s@example.com", role=Role.AGENT)
    with pytest.raises(ValidationError):
        actions.do_assign(mike, conversation, stranger)
    with pytest.raises(Refused):
        actions.do_assign(alice, conversation, alice)  # agents do not assign
    actions.do_assign(mike, conversation, None)
    conversation.refresh_from_db()
    assert conversation.assignee is None
    kinds = list(
        ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True)
    )
    assert kinds.count("assigned") == 1
    assert "unassigned" in kinds
    assert "taken" in kinds


def test_replies_use_the_conversations_cc_and_bcc_never_the_received_messages(desk, alice, smtp):
    conversation = customer_mail(
        desk, headers={"Cc": "Dan <dan@example.org>, erin@example.org, offers@herald.test"}
    )
    conversation.refresh_from_db()
    assert conversation.cc == "dan@example.org, erin@example.org"  # updated from the message
    actions.do_take(alice, conversation)
    actions.do_set_cc(
        alice, conversation, cc="dan@example.org, fay@example.org", bcc="qa@example.org"
    )
    shown = actions.recipients(Conversation.objects.get(pk=conversation.pk), "reply")
    assert (shown.to, shown.cc, shown.bcc) == (
        ["carol@example.org"],
        ["dan@example.org", "fay@example.org"],
        ["qa@example.org"],
    )
    actions.do_answer(alice, conversation, Answer("reply", "Copying the right people."))
    send_all()
    sent = last_received(smtp)
    assert sent["Cc"] == "dan@example.org, fay@example.org"
    assert "erin@example.org" not in smtp.received[-1].rcpt_tos
    assert "qa@example.org" in smtp.received[-1].rcpt_tos
    assert "qa@example.org" not in smtp.received[-1].content.decode()  # BCC stays hidden


def test_a_forward_goes_to_the_address_given_with_the_originals_attachments(desk, alice, smtp):
    raw = (
        b"From: carol@example.org\r\nTo: offers@herald.test\r\nSubject: Invoice\r\n"
        b"Message-ID: <inv-1@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nSee the invoice.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="invoice.pdf"\r\n\r\n%PDF-1.4\r\n--b--\r\n'
    )
    row = receive(desk, raw)
    conversation = Message.objects.get(inbound=row).conversation
    actions.do_take(alice, conversation)
    actions.do_answer(
        alice, conversation, Answer("forward", "Billing, please check.", to="billing@example.org")
    )
    send_all()
    sent = last_received(smtp)
    assert smtp.received[-1].rcpt_tos == ["billing@example.org"]
    assert sent["Subject"] == "Fwd: Invoice"
    names = [part.get_filename() for part in sent.iter_attachments()]
    assert names == ["invoice.pdf"]
    assert "See the invoice." in sent.get_body(("plain",)).get_content()


def test_an_internal_note_is_kept_and_never_sent(desk, bob, smtp):
    conversation = customer_mail(desk)
    note = actions.do_answer(bob, conversation, Answer("note", "VIP customer, be kind."))
    assert note.send_state == ""
    assert send_all() == []
    assert smtp.received == []
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None  # a note answers nobody


def test_a_customer_message_reopens_a_pending_or_snoozed_conversation(desk, alice):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_set_status(alice, conversation, "pending")
    customer_mail(desk, "Any news?")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    later = timezone.now() + dt.timedelta(hours=1)
    actions.do_set_status(alice, conversation, "snoozed", snoozed_until=later)
    assert actions.wake_snoozed(timezone.now()) == 0
    assert actions.wake_snoozed(later + dt.timedelta(seconds=1)) == 1
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


def test_mail_after_closing_starts_a_new_conversation_linked_to_the_old(desk, alice, smtp):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "Done."))
    send_all()
    actions.do_close(alice, conversation, reason=None)
    receive(desk, reply_to(last_received(smtp), "One more thing."))
    newer = Conversation.objects.exclude(pk=conversation.pk).get()
    assert newer.previous_id == conversation.pk
    assert newer.status == ConversationStatus.OPEN
    assert newer.contact_id == conversation.contact_id


def test_closing_asks_for_a_reason_when_the_mailbox_requires_one_and_counts_it(desk, alice):
    do_save_mailbox(ACTOR, desk, {"wrapup_required": True}, secrets={})
    answered = actions.do_save_wrapup_reason(ACTOR, None, mailbox=desk, name="Question answered")
    conversation = customer_mail(desk)
    conversation.refresh_from_db()
    actions.do_take(alice, conversation)
    with pytest.raises(ValidationError, match="wrap-up reason"):
        actions.do_close(alice, conversation, reason=None)
    actions.do_close(alice, conversation, reason=answered, note="all good")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.wrapup_note) == ("closed", "all good")
    counts = queries.wrapup_counts()
    assert counts["agent"] == [("alice@example.com", "Question answered", 1)]
    assert counts["mailbox"] == [("Offers", "Question answered", 1)]
    with pytest.raises(ValidationError):
        actions.do_save_wrapup_reason(ACTOR, None, mailbox=desk, name="question ANSWERED")
    assert WrapUpReason.objects.count() == 1


def test_a_new_email_is_refused_when_one_is_active_and_at_the_agents_limit(desk, alice, smtp):
    conversation = actions.do_start_conversation(
        alice, desk, to="dora@example.org", subject="Your renewal", html="Hello Dora"
    )
    assert conversation.assignee == alice
    assert conversation.origin == "outbound"
    assert send_all() == ["sent"]
    assert smtp.received[-1].rcpt_tos == ["dora@example.org"]
    with pytest.raises(Refused, match="already has an active conversation") as refused:
        actions.do_start_conversation(alice, desk, to="DORA@example.org", subject="x", html="y")
    assert refused.value.link.endswith(f"/conversations/{conversation.pk}/")

    do_save_mailbox(ACTOR, desk, {"max_outbound_open": 1}, secrets={})
    desk.refresh_from_db()
    with pytest.raises(Refused, match="your limit"):
        actions.do_start_conversation(alice, desk, to="eve@example.org", subject="x", html="y")
    member = desk.members.get(user=alice)
    actions.do_set_member_limit(ACTOR, member, 2)  # the agent's own limit wins
    actions.do_start_conversation(alice, desk, to="eve@example.org", subject="x", html="y")


def test_a_new_email_warns_of_a_used_subject_and_refuses_a_suppressed_address(desk, alice):
    conversation = actions.do_start_conversation(
        alice, desk, to="gil@example.org", subject="Your renewal", html="Hello"
    )
    actions.do_close(alice, conversation, reason=None)
    assert actions.subject_used_before(conversation.contact, "Re: your renewal")
    do_add_suppression(ACTOR, "blocked.example")
    with pytest.raises(Refused, match="suppression list"):
        actions.do_start_conversation(alice, desk, to="x@blocked.example", subject="s", html="h")


def test_a_temporary_failure_is_retried_and_a_permanent_one_fails_with_the_servers_words(
    desk, alice, smtp, settings
):
    settings.DIALER_RETRY_MINUTES = [0.0]
    first = actions.do_start_conversation(
        alice, desk, to="once-data-451@example.org", subject="a", html="Hello"
    )
    second = actions.do_start_conversation(
        alice, desk, to="data-554@example.org", subject="b", html="Hello"
    )
    assert sorted(send_all()) == ["deferred", "failed"]
    failed = second.messages.get()
    assert failed.send_state == "failed"
    assert "554 5.7.1 Message rejected" in failed.send_error
    from herald.conversations import sending

    assert sending.send_due() is False  # the deferred one was due again at once
    assert first.messages.get().send_state == "sent"
    kinds = set(ConversationEvent.objects.filter(conversation=first).values_list("kind", flat=True))
    assert {"deferred", "sent"} <= kinds


def test_an_answer_is_sent_only_once_even_when_two_workers_try(desk, alice, smtp):
    from herald.conversations import sending

    conversation = actions.do_start_conversation(
        alice, desk, to="hal@example.org", subject="a", html="Hello"
    )
    message = conversation.messages.get()
    assert sending.send(message.pk) == "sent"
    assert sending.send(message.pk) == "not due"
    assert len(smtp.received) == 1


def test_an_answer_is_queued_only_once_the_transaction_commits(
    desk, alice, django_capture_on_commit_callbacks
):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        actions.do_answer(alice, conversation, Answer("reply", "Soon."))
        assert callbacks == []
    assert len(callbacks) == 1


def test_attachments_go_out_with_the_answer_and_oversized_ones_are_refused(desk, alice, smtp):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_answer(
        alice,
        conversation,
        Answer("reply", "Here it is.", uploads=[Upload("terms.txt", "text/plain", b"terms")]),
    )
    send_all()
    assert [p.get_filename() for p in last_received(smtp).iter_attachments()] == ["terms.txt"]
    big = Upload("big.bin", "application/octet-stream", b"x" * (actions.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ValidationError, match="at most"):
        actions.do_answer(alice, conversation, Answer("reply", "too big", uploads=[big]))


def test_the_composer_keeps_formatting_and_drops_scripts_and_javascript_links(desk, alice, smtp):
    conversation = customer_mail(desk)
    actions.do_take(alice, conversation)
    actions.do_answer(
        alice,
        conversation,
        Answer(
            "reply",
            '<p onclick="x()"><b>Bold</b> <a href="javascript:alert(1)">bad</a> '
            '<a href="https://example.com/help">help</a><script>alert(2)</script></p>',
        ),
    )
    send_all()
    html = last_received(smtp).get_body(("html",)).get_content()
    assert "<b>Bold</b>" in html
    assert "https://example.com/help" in html
    assert "javascript" not in html
    assert "script" not in html
    assert "onclick" not in html
    text = last_received(smtp).get_body(("plain",)).get_content()
    assert "help (https://example.com/help)" in text


def test_search_finds_conversations_by_customer_subject_campaign_and_message_text(desk, alice):
    customer_mail(
        desk,
        "The parcel arrived broken",
        sender="Zoe Quill <zoe@example.org>",
        subject="Damaged delivery",
    )
    customer_mail(desk, "Can I pay by transfer?", sender="ivan@example.org", subject="Payment")
    mine = queries.InboxFilter

    def found(text: str) -> list[str]:
        return [c.subject for c in queries.inbox_page(alice, mine(search=text))]

    assert found("zoe") == ["Damaged delivery"]
    assert found("quil") == ["Damaged delivery"]  # a word's beginning
    assert found("damaged") == ["Damaged delivery"]
    assert found("parcel broken") == ["Damaged delivery"]
    assert found("transfer") == ["Payment"]
    assert found("ivan@example.org") == ["Payment"]
    assert found("nothing-like-this") == []
    assert found('"; DROP TABLE x; --') == []


def test_inbox_views_count_and_order_and_mark_unread(desk, alice, bob):
    first = customer_mail(desk, sender="a@example.org", subject="first")
    second = customer_mail(desk, sender="b@example.org", subject="second")
    actions.do_take(alice, first)
    counts = queries.counts(alice)
    assert (counts["mine"], counts["unassigned"], counts["all"]) == ("1", "1", "2")
    rows = queries.page_of(alice, queries.inbox(alice, queries.InboxFilter(view="all")), 1)
    assert [c.subject for c in rows] == ["second", "first"]
    waiting = queries.inbox(alice, queries.InboxFilter(view="all", order="waiting"))
    assert [c.subject for c in waiting] == ["first", "second"]
    assert not any(c.seen for c in rows)
    actions.mark_read(alice, second)
    rows = queries.page_of(alice, queries.inbox(alice, queries.InboxFilter(view="all")), 1)
    assert [c.seen for c in rows] == [True, False]
    customer_mail(desk, "again", sender="b@example.org", subject="second")
    rows = queries.page_of(alice, queries.inbox(alice, queries.InboxFilter(view="all")), 1)
    assert rows[0].subject == "second"
    assert not rows[0].seen


def test_an_agents_answer_is_dkim_signed_like_a_campaign(desk, alice, smtp):
    import dkim as dkimpy

    from herald.dialer.dkim import dns_name

    mailbox = do_save_mailbox(ACTOR, desk, {}, secrets={}, dkim_generate="ed25519")
    record = mailbox.dkim_dns_record.encode()
    name = dns_name(mailbox.dkim_selector, mailbox.dkim_domain)

    def dnsfunc(asked: bytes | str, timeout: int = 5) -> bytes:
        asked = asked.decode() if isinstance(asked, bytes) else asked
        return record if asked.rstrip(".") == name else b""

    conversation = customer_mail(mailbox)
    actions.do_take(alice, conversation)
    actions.do_answer(alice, conversation, Answer("reply", "Signed and sealed."))
    send_all()
    content = smtp.received[-1].content
    assert b"DKIM-Signature:" in content.split(b"\r\n\r\n")[0]
    assert dkimpy.verify(content, dnsfunc=dnsfunc)
    assert not dkimpy.verify(content.replace(b"sealed", b"sealer"), dnsfunc=dnsfunc)


def test_a_search_pages_newest_first_through_chunks_and_keeps_the_filters(
    desk, alice, mike, monkeypatch
):
    from herald.conversations import search

    monkeypatch.setattr(queries, "SEARCH_CHUNKS", (2, 3))
    monkeypatch.setattr(queries, "PAGE_SIZE", 4)
    monkeypatch.setattr(search, "FEW_MATCHES", 3)  # PostgreSQL: more than a few, so it walks
    made = [
        customer_mail(desk, f"refund number {n}", sender=f"r{n}@example.org", subject=f"R{n}")
        for n in range(11)
    ]
    for conversation in made[::3]:  # R0, R3, R6, R9 are pending
        actions.do_set_status(mike, conversation, "pending")
    search = queries.InboxFilter(search="refund")
    first = queries.inbox_page(alice, search, 1)
    assert [c.subject for c in first] == ["R10", "R9", "R8", "R7", "R6"]  # one more: next page
    third = queries.inbox_page(alice, search, 3)
    assert [c.subject for c in third] == ["R2", "R1", "R0"]
    pending = queries.inbox_page(alice, queries.InboxFilter(search="refund", status="pending"))
    assert [c.subject for c in pending] == ["R9", "R6", "R3", "R0"]
    outsider = User.objects.create_user(email="o@example.com", role=Role.AGENT)
    assert queries.inbox_page(outsider, search) == []


def test_a_search_ignores_accents_and_finds_every_word_a_prefix_begins(desk, alice, monkeypatch):
    from herald.conversations import search

    customer_mail(
        desk,
        "Merci beaucoup",
        sender="=?utf-8?q?H=C3=A9lo=C3=AFse_=C3=89bert?= <h@example.org>",
        subject="=?utf-8?q?R=C3=A9tro?=",
    )
    customer_mail(desk, "A refund please", sender="r@example.org", subject="Refunds")
    customer_mail(desk, "It was refunded", sender="s@example.org", subject="Refunded")
    customer_mail(desk, "Reference 42", sender="t@example.org", subject="Other")

    def found(text: str) -> list[str]:
        rows = queries.inbox_page(alice, queries.InboxFilter(search=text))
        return sorted(c.subject for c in rows)

    assert found("heloise") == ["Rétro"]
    assert found("HÉLOÏSE ebert") == ["Rétro"]
    assert found("refund") == ["Refunded", "Refunds"]  # refund, refunds, refunded
    assert found("ref") == ["Other", "Refunded", "Refunds"]
    assert found("refundx") == []
    # A prefix of more words than MAX_EXPANSION is matched by the database's own prefix search:
    # the same answer, found another way.
    monkeypatch.setattr(search, "MAX_EXPANSION", 1)
    assert search.expansion("ref") is None
    assert found("ref") == ["Other", "Refunded", "Refunds"]
    assert found("ref please") == ["Refunds"]


def test_a_search_with_an_end_date_finds_older_conversations_only(desk, alice):
    old = customer_mail(desk, "refund for March", sender="m@example.org", subject="March")
    new = customer_mail(desk, "refund for June", sender="j@example.org", subject="June")
    march, june = (
        dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 10, tzinfo=dt.UTC),
    )
    Conversation.objects.filter(pk=old.pk).update(created_at=march, last_message_at=march)
    Conversation.objects.filter(pk=new.pk).update(created_at=june, last_message_at=june)

    def found(**dates: dt.date) -> list[str]:
        flt = queries.InboxFilter(search="refund", **dates)
        return [c.subject for c in queries.inbox_page(alice, flt)]

    assert found() == ["June", "March"]
    assert found(until=dt.date(2026, 3, 10)) == ["March"]
    assert found(until=dt.date(2026, 3, 9)) == []
    assert found(since=dt.date(2026, 3, 11)) == ["June"]
    assert found(since=dt.date(2026, 3, 1), until=dt.date(2026, 6, 30)) == ["June", "March"]


def test_an_agent_of_several_mailboxes_pages_through_them_newest_activity_first(
    desk, alice, monkeypatch
):
    other = Mailbox.objects.create(name="Billing", from_address="billing@example.com")
    actions.do_set_members(ACTOR, [alice], [other], add=True)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    for n in range(5):
        for box in (desk, other):
            made = customer_mail(box, sender=f"c{n}@example.org", subject=f"{box.name} {n}")
            at = start + dt.timedelta(hours=n, minutes=1 if box == other else 0)
            Conversation.objects.filter(pk=made.pk).update(last_message_at=at)
    pages = [
        [c.subject for c in queries.inbox_page(alice, queries.InboxFilter(view="all"), page)]
        for page in (1, 2, 5)
    ]
    assert pages[0] == ["Billing 4", "Offers 4", "Billing 3"]  # one more: a next page exists
    assert pages[1] == ["Billing 3", "Offers 3", "Billing 2"]
    assert pages[2] == ["Billing 0", "Offers 0"]


def test_an_agents_search_reads_only_their_mailboxes_however_many_others_match(
    desk, alice, mike, monkeypatch
):
    monkeypatch.setattr(queries, "SEARCH_CHUNKS", (2,))
    monkeypatch.setattr(queries, "SEARCH_SCAN_LIMIT", 4)  # fewer than the other mailbox's matches
    customer_mail(desk, "refund please", sender="mine@example.org", subject="Mine")
    other = Mailbox.objects.create(name="Billing", from_address="billing@example.com")
    for n in range(6):
        customer_mail(other, "refund please", sender=f"o{n}@example.org", subject=f"Other {n}")
    search = queries.InboxFilter(search="refund")
    assert [c.subject for c in queries.inbox_page(alice, search)] == ["Mine"]
    managers = queries.inbox_page(mike, queries.InboxFilter(search="refund", mailbox_id=desk.pk))
    assert [c.subject for c in managers] == ["Mine"]


@pytest.mark.parametrize(
    ("view", "order"), [("all", "recent"), ("all", "waiting"), ("unassigned", "waiting")]
)
def test_merged_pages_of_several_mailboxes_are_the_one_query_order_cut_in_pages(
    desk, alice, monkeypatch, view, order
):
    other = Mailbox.objects.create(name="Billing", from_address="billing@example.com")
    actions.do_set_members(ACTOR, [alice], [other], add=True)
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    for n in range(7):
        for box in (desk, other):
            made = customer_mail(box, sender=f"c{n}@example.org", subject=f"{box.name} {n}")
            at = start + dt.timedelta(hours=n % 4, minutes=7 * n + (1 if box == other else 0))
            waiting = None if n % 3 == 0 else start + dt.timedelta(minutes=(5 * n) % 11)
            Conversation.objects.filter(pk=made.pk).update(
                last_message_at=at, waiting_since=waiting
            )
    flt = queries.InboxFilter(view=view, order=order)
    whole = [c.subject for c in queries.inbox(alice, flt)]
    assert len(whole) == 14
    paged = []
    for page in range(1, 6):
        rows = [c.subject for c in queries.inbox_page(alice, flt, page)]
        assert rows == whole[(page - 1) * 3 : page * 3 + 1]  # and one more when there is a next
        paged.extend(rows[:3])
    assert paged == whole


def test_a_rare_words_search_finds_its_matches_and_leaves_the_planner_as_it_was(desk, alice):
    from django.db import connection, transaction

    customer_mail(desk, "the zanzibar contract", sender="z@example.org", subject="Rare")
    for n in range(5):
        customer_mail(desk, "refund please", sender=f"c{n}@example.org", subject=f"C{n}")
    with transaction.atomic():  # as in a request: the search's settings must not outlive it
        found = queries.inbox_page(alice, queries.InboxFilter(search="zanz"))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW enable_indexscan")
                assert cursor.fetchone()[0] == "on"
    assert [c.subject for c in found] == ["Rare"]


def test_a_common_words_search_skips_the_index_probe_and_finds_the_newest(desk, alice, monkeypatch):
    """PostgreSQL: the table's statistics say a word is common, so the search walks newest first
    instead of reading every posting first; a rare word is still probed. (SQLite never probes.)"""
    from django.db import connection

    from herald.contacts.models import Contact
    from herald.conversations import search

    monkeypatch.setattr(search, "FEW_MATCHES", 50)
    contacts = Contact.objects.bulk_create(Contact(first_name=f"C{n}") for n in range(400))
    Conversation.objects.bulk_create(
        Conversation(
            mailbox=desk,
            contact=contact,
            subject=f"#{n}",
            search_text=search.new_index_text(desk.pk, f"invoice {'zanzibar' if n == 7 else ''}"),
        )
        for n, contact in enumerate(contacts)
    )
    search._stats.clear()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations_conversation")
        assert search.likely_many("(invoice)")
        assert not search.likely_many("(zanzibar)")
        assert search.likely_many(f"(zzmailbox{desk.pk}) & (invoice)")
    assert search.few_matches("(invoice)", None) is None
    search.remember(["invoice", "zanzibar"])
    newest = queries.inbox_page(alice, queries.InboxFilter(search="invoice"))
    assert [c.subject for c in newest[:3]] == ["#399", "#398", "#397"]
    rare = queries.inbox_page(alice, queries.InboxFilter(search="zanzibar"))
    assert [c.subject for c in rare] == ["#7"]
    search._stats.clear()


def test_an_agents_search_over_many_matches_merges_their_mailboxes_newest_first(
    desk, alice, monkeypatch
):
    """More matches than the index probe takes: PostgreSQL walks each of the agent's mailboxes
    on its own and merges; SQLite walks its index once. Same answer, never another mailbox's."""
    from herald.conversations import search

    monkeypatch.setattr(search, "FEW_MATCHES", 2)
    monkeypatch.setattr(queries, "PAGE_SIZE", 4)
    other = Mailbox.objects.create(name="Billing", from_address="billing@example.com")
    foreign = Mailbox.objects.create(name="Sales", from_address="sales@example.com")
    actions.do_set_members(ACTOR, [alice], [other], add=True)
    made = []
    for n in range(6):
        for box in (desk, other, foreign):
            made.append(
                (
                    box,
                    customer_mail(
                        box, "refund please", sender=f"r{n}@example.org", subject=f"{box.name} {n}"
                    ),
                )
            )
    mine = [c.subject for box, c in reversed(made) if box != foreign]
    found = queries.inbox_page(alice, queries.InboxFilter(search="refund"))
    assert [c.subject for c in found] == mine[:5]  # a page, and one more: a next page exists
    second = queries.inbox_page(alice, queries.InboxFilter(search="refund"), 2)
    assert [c.subject for c in second] == mine[4:9]


def test_an_agent_filtering_on_a_mailbox_they_do_not_work_sees_nothing(desk, alice):
    foreign = Mailbox.objects.create(name="Sales", from_address="sales@example.com")
    customer_mail(foreign, "hello", sender="s@example.org", subject="Not hers")
    mine = customer_mail(desk, "hello", sender="m@example.org", subject="Hers")
    for view in ("all", "unassigned"):
        assert (
            queries.inbox_page(alice, queries.InboxFilter(view=view, mailbox_id=foreign.pk)) == []
        )
        found = queries.inbox_page(alice, queries.InboxFilter(view=view, mailbox_id=desk.pk))
        assert [c.pk for c in found] == [mine.pk]
    assert (
        queries.inbox_page(alice, queries.InboxFilter(search="hello", mailbox_id=foreign.pk)) == []
    )

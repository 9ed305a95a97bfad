"""The desk through its pages and its API, as an agent and a manager use them: the same actions
behind both, agents limited to their mailboxes, refusals said in words with a link."""

from __future__ import annotations

import base64

import pytest

from herald.accounts.models import Role, User
from herald.audit.models import AuditEvent
from herald.conversations import actions
from herald.conversations.models import MailboxMember, Message
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.messaging.actions import do_save_template
from tests.conversations.conftest import ACTOR, customer_mail, last_received, send_all

pytestmark = pytest.mark.django_db


def test_an_agent_works_a_conversation_through_the_pages(desk, alice, client_for, smtp):
    conversation = customer_mail(desk, "Where is my parcel?")
    client = client_for(alice)
    inbox = client.get("/conversations/?view=unassigned").content.decode()
    assert "My order" in inbox
    assert 'data-testid="unread"' in inbox
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Where is my parcel?" in page
    assert "Take the conversation before answering." in page
    client.post(f"/conversations/{conversation.pk}/take/")
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert 'data-testid="composer"' in page
    response = client.post(
        f"/conversations/{conversation.pk}/answer/",
        {"mode": "reply", "html": "<p>On its way.</p>"},
        follow=True,
    )
    assert "Queued for sending to carol@example.org" in response.content.decode()
    send_all()
    assert "On its way." in last_received(smtp).get_body(("plain",)).get_content()
    rows = client.get("/conversations/rows/?view=mine").content.decode()
    assert "My order" in rows
    assert 'data-testid="unread"' not in rows  # read since the customer wrote


def test_an_agent_gets_404_for_another_mailboxs_conversation_in_pages_and_api(
    desk, client_for, api_for
):
    stranger = User.objects.create_user(email="s@example.com", role=Role.AGENT, password="x")
    conversation = customer_mail(desk)
    assert client_for(stranger).get(f"/conversations/{conversation.pk}/").status_code == 404
    assert "My order" not in client_for(stranger).get("/conversations/").content.decode()
    api = api_for(stranger)
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 404
    assert api.get("/api/v1/conversations").json()["conversations"] == []
    part = Message.objects.filter(conversation=conversation).first()
    assert part is not None
    assert api.post(f"/api/v1/conversations/{conversation.pk}/take").status_code == 404


def test_the_api_takes_answers_and_closes_and_says_who_took_it_first(
    desk, alice, bob, api_for, smtp
):
    conversation = customer_mail(desk)
    reason = actions.do_save_wrapup_reason(ACTOR, None, mailbox=desk, name="Solved")
    as_alice, as_bob = api_for(alice), api_for(bob)
    listed = as_alice.get("/api/v1/conversations?view=unassigned&q=order").json()
    assert [c["id"] for c in listed["conversations"]] == [conversation.pk]
    assert listed["conversations"][0]["unread"] is True
    assert as_alice.post(f"/api/v1/conversations/{conversation.pk}/take").status_code == 200
    taken = as_bob.post(f"/api/v1/conversations/{conversation.pk}/take")
    assert taken.status_code == 409
    assert taken.json()["detail"] == "alice took this conversation first."
    answer = as_alice.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {
            "mode": "reply",
            "html": "Plain text works too.\n\nSecond paragraph.",
            "attachments": [
                {
                    "filename": "a.txt",
                    "content_type": "text/plain",
                    "data_base64": base64.b64encode(b"hi").decode(),
                }
            ],
        },
        content_type="application/json",
    )
    assert answer.status_code == 201
    assert answer.json()["send_state"] == "queued"
    send_all()
    got = as_alice.get(f"/api/v1/conversations/{conversation.pk}").json()
    assert got["messages"][-1]["send_state"] == "sent"
    assert got["messages"][-1]["attachments"][0]["filename"] == "a.txt"
    closed = as_alice.post(
        f"/api/v1/conversations/{conversation.pk}/close",
        {"reason_id": reason.pk, "note": "done"},
        content_type="application/json",
    )
    assert closed.json()["status"] == "closed"


def test_the_api_refuses_a_second_active_conversation_with_a_link(desk, alice, api_for):
    api = api_for(alice)
    body = {"mailbox_id": desk.pk, "to": "ida@example.org", "subject": "Hi", "html": "Hello"}
    first = api.post("/api/v1/conversations", body, content_type="application/json")
    assert first.status_code == 201
    again = api.post("/api/v1/conversations", body, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["link"] == f"/conversations/{first.json()['id']}/"


def test_a_refused_new_email_page_says_why_and_links_to_the_active_conversation(
    desk, alice, client_for
):
    existing = customer_mail(desk, sender="jo@example.org")
    response = client_for(alice).post(
        "/conversations/new/",
        {"mailbox": desk.pk, "to": "jo@example.org", "subject": "Hello", "html": "Hi"},
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert "already has an active conversation" in page
    assert f'href="/conversations/{existing.pk}/"' in page


def test_a_manager_adds_agents_to_several_mailboxes_in_one_step_and_it_is_audited(
    alice, bob, mike, client_for, mailbox
):
    sandbox = ensure_sandbox_mailbox()
    client_for(mike).post(
        "/conversations/members/",
        {"users": [alice.pk, bob.pk], "mailboxes": [mailbox.pk, sandbox.pk], "action": "add"},
    )
    assert MailboxMember.objects.count() == 4
    assert AuditEvent.objects.filter(action="mailbox.member_add").count() == 4
    client_for(mike).post(
        "/conversations/members/",
        {"users": [bob.pk], "mailboxes": [sandbox.pk], "action": "remove"},
    )
    assert set(MailboxMember.objects.values_list("user__email", "mailbox__name")) == {
        ("alice@example.com", "Offers"),
        ("bob@example.com", "Offers"),
        ("alice@example.com", "Sandbox"),
    }


def test_a_saved_answer_is_rendered_for_the_customer_with_defaults(desk, alice, client_for):
    template = do_save_template(
        ACTOR,
        None,
        name="Shipping times",
        subject="Shipping",
        html="<p>Dear ${first_name|customer}, we ship within ${days|2} days.</p>",
        saved_answer=True,
    ).template
    conversation = customer_mail(desk, sender="Carol Buyer <carol@example.org>")
    html = (
        client_for(alice)
        .get(f"/conversations/{conversation.pk}/saved-answer/?template={template.pk}")
        .content.decode()
    )
    assert "<p>Dear Carol, we ship within 2 days.</p>" in html
    assert "<div>" in html  # the template's body as the renderer wraps it, scripts never


def test_the_conversation_page_shows_the_customer_panel_and_earlier_conversations(
    desk, alice, client_for
):
    first = customer_mail(desk, sender="kim@example.org", subject="First question")
    actions.do_take(alice, first)
    actions.do_close(alice, first, reason=None)
    second = customer_mail(desk, sender="kim@example.org", subject="Second question")
    assert second.previous_id == first.pk
    page = client_for(alice).get(f"/conversations/{second.pk}/").content.decode()
    assert "kim@example.org" in page
    assert "First question" in page  # the customer's earlier conversation
    assert f'href="/conversations/{first.pk}/" data-testid="previous"' in page


def test_another_agent_sees_who_is_answering_and_a_contact_page_offers_a_new_email(
    desk, alice, bob, client_for
):
    from herald.mailboxes.actions import do_save_mailbox

    do_save_mailbox(ACTOR, desk, {"desk_mode": "open"}, secrets={})
    conversation = customer_mail(desk)
    assert client_for(bob).post(f"/conversations/{conversation.pk}/answering/").status_code == 204
    live = client_for(alice).get(f"/conversations/{conversation.pk}/live/").content.decode()
    assert "Bob is answering this conversation." in live
    own = client_for(bob).get(f"/conversations/{conversation.pk}/live/").content.decode()
    assert "is answering" not in own  # not told about themselves
    contact = client_for(alice).get(f"/contacts/{conversation.contact_id}/").content.decode()
    assert f"/conversations/new/?contact={conversation.contact_id}" in contact
    form = client_for(alice).get(f"/conversations/new/?contact={conversation.contact_id}")
    assert 'value="carol@example.org"' in form.content.decode()

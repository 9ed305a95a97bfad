"""The role matrix: every page and every API endpoint that exists, against every persona.

It walks the URL configuration and the API's operations, so it grows with the app by itself: a new
page or endpoint that does not declare who may use it fails here, and so does one with a URL
parameter for which EXAMPLES gives no value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from ninja.operation import PathView

from herald.accounts.access import PUBLIC, access_of
from herald.accounts.models import Role, User
from herald.api.api import api
from herald.api.auth import TokenAuth
from herald.mailboxes.sandbox import store_message

ROLES = {"agent": Role.AGENT, "manager": Role.MANAGER, "admin": Role.ADMIN}

# Sample values for URL parameters, by parameter name: each gets an object that exists.
EXAMPLES: dict[str, Callable[[dict[str, User]], Any]] = {
    "user_id": lambda personas: personas["agent"].pk,
    "token_id": lambda personas: _token(personas["agent"]),
    "message_id": lambda personas: (
        store_message("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhello\r\n").pk
    ),
    "template_id": lambda personas: _template().template.pk,
    "version_id": lambda personas: _template().version.pk,
    "signature_id": lambda personas: _signature().pk,
    "attachment_id": lambda personas: _attachment().pk,
    "test_send_id": lambda personas: _test_send().pk,
    "list_id": lambda personas: _list().pk,
    "contact_id": lambda personas: _contact().pk,
    "entry_id": lambda personas: _suppression().pk,
    "job_id": lambda personas: _import_job().pk,
    # Parameters are filled left to right: in .../<contact_id>/persons/<person_id>/ the person
    # belongs to the contact just made for contact_id.
    "person_id": lambda personas: _person().pk,
    "mailbox_id": lambda personas: _mailbox().pk,
    "campaign_id": lambda personas: _campaign().pk,
    # The agent persona works the conversation's mailbox: agents see their mailboxes' only
    # (tests/conversations/test_pages.py checks that an outsider gets 404).
    "conversation_id": lambda personas: _conversation(personas).message.conversation_id,
    "part_id": lambda personas: _conversation(personas).part.pk,
    "inbound_id": lambda personas: _conversation(personas).inbound.pk,
    "sent_id": lambda personas: _conversation(personas).sent.pk,
    # A recipient's link: the token of a sent delivery whose template has a link number 0.
    "token": lambda personas: _delivery_token(),
    # An opt-out confirmation link (signed address and mailbox).
    "signed": lambda personas: _optout_confirmation(),
    # A password reset link (its token is checked by the page: a wrong one says so, with 200).
    "uidb64": lambda personas: "MQ",
    # A webhook endpoint (nothing listens at its address), and a message of it.
    "endpoint_id": lambda personas: _webhook_endpoint().pk,
    "message_pk": lambda personas: _webhook_message().pk,
    "webhook_message_id": lambda personas: _webhook_message().pk,
    # A disposition rule, and a call reported with its code.
    "rule_id": lambda personas: _disposition_rule().pk,
    "disposition_id": lambda personas: _disposition().pk,
    # Any other address under /api/ (a JSON 404 for everyone).
    "rest": lambda personas: "v1/nothing-here",
    "index": lambda personas: 0,
    "score": lambda personas: 5,
}


def _conversation(personas):
    """A conversation made by processing a real message with an attachment, in a mailbox the
    agent persona works, with an agent's answer as sent."""
    from types import SimpleNamespace

    from herald.audit.actors import Actor
    from herald.conversations.actions import do_set_members
    from herald.conversations.models import Attachment, Message
    from herald.inbound.models import InboundMessage
    from herald.inbound.processing import process_message

    raw = (
        b"From: Matrix <matrix@example.org>\r\nTo: s@example.org\r\nSubject: Hi\r\n"
        b"Message-ID: <matrix-%d@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nHello\r\n--b\r\nContent-Type: text/plain\r\n"
        b'Content-Disposition: attachment; filename="a.txt"\r\n\r\nfile\r\n--b--\r\n'
    ) % (n := InboundMessage.objects.count())
    inbound = InboundMessage.objects.create(
        mailbox=_mailbox(), folder="INBOX", uidvalidity=1, uid=n, message_key=f"<m{n}>", raw=raw
    )
    process_message(inbound.pk)
    do_set_members(Actor.system("test"), [personas["agent"]], [_mailbox()], add=True)
    message = Message.objects.get(inbound=inbound)
    sent = Message.objects.create(
        conversation=message.conversation,
        direction="out",
        kind="agent",
        subject="Re: Hi",
        text="Hello",
        send_state="sent",
        raw=b"Subject: Re: Hi\r\n\r\nHello\r\n",
    )
    return SimpleNamespace(
        message=message, inbound=inbound, part=Attachment.objects.get(message=message), sent=sent
    )


def _webhook_endpoint():
    from herald.audit.actors import Actor
    from herald.webhooks.actions import do_create_endpoint

    return do_create_endpoint(Actor.system("test"), "http://127.0.0.1:9/matrix")


def _webhook_message():
    from herald.webhooks.models import Endpoint, Message

    endpoint = Endpoint.objects.order_by("-id").first() or _webhook_endpoint()
    return Message.objects.create(
        endpoint=endpoint,
        message_id=f"msg_matrix{Message.objects.count()}",
        seq=1,
        event_type="delivery.sent",
        object_key="delivery:1",
        payload={"type": "delivery.sent"},
        state="failed",
    )


def _disposition_rule():
    from herald.audit.actors import Actor
    from herald.dispositions.actions import do_save_rule
    from herald.dispositions.models import DispositionRule

    found = DispositionRule.objects.filter(code="MATRIX").first()
    if found is not None:
        return found
    return do_save_rule(
        Actor.system("test"), None, code="MATRIX", template=_template().template, mailbox=_mailbox()
    )


def _disposition():
    from herald.audit.actors import Actor
    from herald.dispositions import actions
    from herald.dispositions.models import Disposition

    rule = _disposition_rule()
    call = actions.Call(call_id=f"matrix-{Disposition.objects.count()}", code=rule.code)
    return actions.do_record_disposition(Actor.system("test"), call, _contact(), "m@example.org")[0]


def _mailbox():
    from herald.mailboxes.actions import ensure_sandbox_mailbox

    return ensure_sandbox_mailbox()


def _campaign():
    from herald.audit.actors import Actor
    from herald.campaigns.actions import do_save_campaign
    from herald.messaging.actions import do_save_template

    template = do_save_template(
        Actor.system("test"),
        None,
        name="Matrix campaign",
        subject="Hi",
        html='<a href="https://example.org/offer">Offer</a> <a href="${unsubscribe_url}">x</a>',
    ).template
    campaign = do_save_campaign(
        Actor.system("test"),
        None,
        lists=[_list()],
        name=f"Matrix {template.pk}",
        mailbox=_mailbox(),
        template=template,
    )
    campaign.version = template.current_version
    campaign.save(update_fields=["version"])
    return campaign


def _optout_confirmation() -> str:
    from herald.tracking.actions import optout_confirmation_token

    return optout_confirmation_token("matrix@example.org", _mailbox().pk)


def _delivery_token():
    from django.utils import timezone

    from herald.campaigns.models import Delivery
    from herald.campaigns.tokens import reply_token

    delivery = Delivery.objects.create(
        campaign=_campaign(),
        contact=_contact(),
        email="m@example.org",
        state="sent",
        sent_at=timezone.now(),
    )
    return reply_token(delivery.pk)


def _list():
    from herald.contacts.models import ContactList

    return ContactList.objects.create(name=f"Matrix {ContactList.objects.count()}")


def _contact():
    from herald.audit.actors import Actor
    from herald.contacts.actions import do_upsert_contacts
    from herald.contacts.models import Contact

    do_upsert_contacts(Actor.system("test"), [{"first_name": "Mat", "emails": ["m@example.org"]}])
    return Contact.objects.latest("pk")


def _person():
    from herald.audit.actors import Actor
    from herald.contacts.actions import do_add_person
    from herald.contacts.models import Contact

    contact = Contact.objects.order_by("-pk").first() or _contact()
    return do_add_person(Actor.system("test"), contact, name="Pat", role="Buyer")


def _suppression():
    from herald.audit.actors import Actor
    from herald.contacts.actions import do_add_suppression

    return do_add_suppression(Actor.system("test"), "gone@example.org")


def _import_job():
    import tempfile
    from pathlib import Path

    from herald.audit.actors import Actor
    from herald.contacts.actions import do_create_import, store_upload

    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "people.csv"
        csv.write_text("email,first_name\na@example.org,Ann\n")
        stored = store_upload(csv, "people.csv")
    return do_create_import(Actor.system("test"), _list(), stored)


def _template():
    from herald.audit.actors import Actor
    from herald.messaging.actions import do_save_template

    return do_save_template(
        Actor.system("test"),
        None,
        name="Matrix",
        subject="Hello ${first_name|there}",
        html="<p>Hello ${first_name|there}</p>",
    )


def _signature():
    from herald.audit.actors import Actor
    from herald.messaging.actions import do_save_signature

    return do_save_signature(Actor.system("test"), None, name="Matrix", html="<p>Bye</p>")


def _attachment():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from herald.audit.actors import Actor
    from herald.messaging.actions import do_add_attachment

    upload = SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")
    return do_add_attachment(Actor.system("test"), _template().template, upload)


def _test_send():
    from herald.messaging.models import TestSend

    return TestSend.objects.create(
        version=_template().version, mailbox=_mailbox(), to="test@example.org"
    )


def _token(user: User) -> int:
    from herald.accounts.actions import do_create_api_token
    from herald.audit.actors import Actor

    return do_create_api_token(Actor.system("test"), user, "matrix").token.pk


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _is_api(pattern: URLPattern) -> bool:
    return (
        getattr(pattern.callback, "__self__", None).__class__ is PathView
        or str(pattern.pattern).startswith(("openapi", "docs"))
        or pattern.name == "api-root"
    )


PAGES = [(route, p) for route, p in _walk(get_resolver()) if not route.startswith("api/")]


def _fill(route: str, personas: dict[str, User]) -> str:
    """The route with each <converter:name> replaced by an example value."""
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in EXAMPLES:
            pytest.fail(
                f"no example value for URL parameter {name!r} in {route}: add it to EXAMPLES"
            )
        return str(EXAMPLES[name](personas))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def test_every_page_declares_who_may_open_it():
    undeclared = [route for route, p in PAGES if access_of(p.callback) is None]
    assert undeclared == [], f"pages without @role_required or @public: {undeclared}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), PAGES, ids=[route or "/" for route, _ in PAGES])
def test_each_role_gets_exactly_the_pages_it_may_open(route, pattern, personas, client_for):
    access = access_of(pattern.callback)
    url = _fill(route, personas)
    anonymous = client_for(None).get(url)
    outsider = client_for(personas["outsider"]).get(url)
    if access == PUBLIC:
        assert anonymous.status_code < 400 or anonymous.status_code == 405, url
        return
    # Anonymous visitors and deactivated users are sent to log in; they never see the page.
    for response in (anonymous, outsider):
        assert response.status_code == 302, url
        assert response.url.startswith("/login/"), url
    for name, role in ROLES.items():
        response = client_for(personas[name]).get(url)
        if role.includes(access):
            assert response.status_code in {200, 302, 405}, (url, name, response.status_code)
        else:
            assert response.status_code == 403, (url, name, response.status_code)


def _operations() -> list[tuple[str, str, Any]]:
    found = []
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    found.append((method, f"/api/v1{prefix}{path}", operation))
    return found


OPERATIONS = _operations()


def test_every_api_operation_requires_a_role_checked_token():
    unguarded = [
        f"{method} {path}"
        for method, path, op in OPERATIONS
        if not op.auth_callbacks or not all(isinstance(a, TokenAuth) for a in op.auth_callbacks)
    ]
    assert unguarded == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_each_role_gets_exactly_the_api_it_may_call(
    method, path, operation, personas, client_for, api_for
):
    import re

    required = operation.auth_callbacks[0].role
    url = re.sub(r"\{(?:\w+:)?(\w+)\}", lambda m: str(EXAMPLES[m.group(1)](personas)), path)
    call = lambda client: client.generic(method, url, "{}", content_type="application/json")  # noqa: E731
    assert call(client_for(None)).status_code == 401
    for name, role in ROLES.items():
        status = call(api_for(personas[name])).status_code
        if role.includes(required):
            assert status not in {401, 403}, (method, url, name, status)
        else:
            assert status == 403, (method, url, name, status)


@pytest.mark.django_db
def test_a_deactivated_users_token_is_refused(personas, api_for):
    client = api_for(personas["agent"])
    personas["agent"].is_active = False
    personas["agent"].save()
    assert client.get("/api/v1/me").status_code == 401

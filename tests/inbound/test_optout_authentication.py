"""An opt-out by reply is acted on only when its sender is proven: by the reply token of the
delivery it answers, or by the receiving server's SPF/DKIM/DMARC verdict (Authentication-Results,
the server's own header only). Otherwise anyone could unsubscribe anyone by writing a From
line: nothing is suppressed, and the address is sent a link to confirm — clicking it suppresses
the address, and the next message to it is skipped."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from django.test import Client

from herald.contacts.queries import suppressions_for
from herald.inbound.tasks import send_auto_answer
from tests.inbound.conftest import receive
from tests.inbound.test_auto_answers import message, queued

pytestmark = pytest.mark.django_db


def suppressed(address: str) -> bool:
    return address in suppressions_for([address])


def ar(value: str) -> str:
    return f"Authentication-Results: {value}"


def test_an_opt_out_nobody_vouches_for_suppresses_nothing_and_asks_the_address_to_confirm(
    mailbox, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive(mailbox, message("Victim <victim@example.org>", body="STOP"))
    assert row.kind == "optout"
    assert not suppressed("victim@example.org")
    assert "not authenticated" in row.reason
    assert queued() == [[row.pk, "confirm"]]  # even though the mailbox has no templates

    assert send_auto_answer.call(row.pk, "confirm") == "sent to victim@example.org"
    sent = smtp.received[-1]
    assert sent.rcpt_tos == ["victim@example.org"]
    confirmation = email.message_from_bytes(sent.content, policy=policy.default)
    assert confirmation["Auto-Submitted"] == "auto-replied"
    text = confirmation.get_body(("plain",)).get_content()
    assert "If it was not you, ignore this message" in text
    link = re.search(r"https?://\S+/optout/\S+", text).group(0)
    path = link.split("://", 1)[1].partition("/")[2]

    client = Client()
    page = client.get("/" + path)
    assert page.status_code == 200
    assert b"victim@example.org" in page.content
    assert not suppressed("victim@example.org")  # looking is not confirming
    assert client.post("/" + path).status_code == 200
    assert suppressed("victim@example.org")

    assert client.get("/" + path[:-3] + "xyz").status_code == 404  # a tampered link


@pytest.mark.parametrize(
    ("headers", "acted", "why"),
    [
        ([ar("mx.herald.test; dmarc=pass (p=reject) header.from=example.org")], True, "dmarc"),
        ([ar("mx.herald.test; dkim=pass header.d=mail.example.org")], True, "aligned subdomain"),
        ([ar("mx.herald.test; spf=pass smtp.mailfrom=bounce@example.org")], True, "spf aligned"),
        ([ar("mx.herald.test; dkim=pass header.d=evil.example")], False, "dkim of another domain"),
        ([ar("mx.herald.test; spf=pass smtp.mailfrom=x@evil.example")], False, "spf unaligned"),
        ([ar("mx.herald.test; dmarc=fail header.from=example.org")], False, "dmarc failed"),
        # The receiving server's header is the topmost; one the sender wrote below counts not.
        (
            [
                ar("mx.herald.test; dmarc=fail header.from=example.org"),
                ar("forged.example; dmarc=pass header.from=example.org"),
            ],
            False,
            "forged below the server's",
        ),
        ([ar("mx.herald.test; dmarc=pass header.from=example.org; ;;; ((")], False, "garbled"),
        ([ar("x" * 10_000)], False, "oversized"),
    ],
)
def test_the_receiving_servers_verdict_decides(mailbox, headers, acted, why):
    row = receive(mailbox, message("Ann <ann@example.org>", *headers, body="unsubscribe"))
    assert row.kind == "optout"
    assert suppressed("ann@example.org") is acted, why


def test_with_trusted_server_ids_only_their_headers_count(mailbox, settings):
    settings.INBOUND_TRUSTED_AUTHSERV_IDS = ["mx.herald.test"]
    forged_on_top = [
        ar("forged.example; dmarc=pass header.from=example.org"),
        ar("mx.herald.test; dmarc=fail header.from=example.org"),
    ]
    receive(mailbox, message("ann@example.org", *forged_on_top, body="STOP", n=1))
    assert not suppressed("ann@example.org")
    ours_below = [
        ar("relay.example; none"),
        ar("mx.herald.test; dmarc=pass header.from=example.org"),
    ]
    receive(mailbox, message("ann@example.org", *ours_below, body="STOP", n=2))
    assert suppressed("ann@example.org")


def test_the_confirmation_page_speaks_the_contacts_language(mailbox):
    from herald.audit.actors import Actor
    from herald.contacts.actions import do_upsert_contacts
    from herald.tracking.actions import optout_confirmation_token

    do_upsert_contacts(Actor.system("test"), [{"emails": ["giulia@example.org"], "language": "it"}])
    italian = Client().get(f"/optout/{optout_confirmation_token('giulia@example.org', mailbox.pk)}")
    assert 'lang="it"' in italian.content.decode()
    unknown = Client().get(f"/optout/{optout_confirmation_token('nobody@example.org', mailbox.pk)}")
    assert 'lang="en"' in unknown.content.decode()  # no contact: the account's language

"""A campaign on a mailbox with a DKIM key: every message the SMTP server received verifies with
dkimpy's verifier against the DNS record the mailbox page shows (relaxed/relaxed, both kinds of
key)."""

from __future__ import annotations

import dkim as dkimpy
import pytest

from herald.campaigns import actions
from herald.dialer.dkim import dns_name
from herald.mailboxes.actions import do_save_mailbox
from tests.campaigns.conftest import ACTOR, drain, make_list

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "algorithm"), [("ed25519", b"ed25519-sha256"), ("rsa", b"rsa-sha256")]
)
def test_every_message_of_a_campaign_verifies_with_dkimpy(
    smtp, mailbox, make_campaign, kind, algorithm
):
    mailbox = do_save_mailbox(ACTOR, mailbox, {}, dkim_generate=kind)
    record = mailbox.dkim_dns_record.encode()
    name = dns_name(mailbox.dkim_selector, mailbox.dkim_domain)

    def dnsfunc(asked: bytes | str, timeout: int = 5) -> bytes:
        asked = asked.decode() if isinstance(asked, bytes) else asked
        return record if asked.rstrip(".") == name else b""

    emails = ["ann@example.com", "bob@example.com", "cy@example.com"]
    campaign = make_campaign([make_list("Customers", emails)])
    actions.do_start_campaign(ACTOR, campaign)
    drain().close()

    received = smtp.received
    assert sorted(r.rcpt_tos[0] for r in received) == emails
    for message in received:
        header = message.content.split(b"\r\n\r\n")[0]
        assert b"DKIM-Signature:" in header
        assert b"c=relaxed/relaxed" in header
        assert b"a=" + algorithm in header
        assert f"d={mailbox.dkim_domain}".encode() in header
        assert dkimpy.verify(message.content, dnsfunc=dnsfunc), message.rcpt_tos
        # ... and a change on the way would show.
        assert not dkimpy.verify(message.content.replace(b"Hello", b"Hallo"), dnsfunc=dnsfunc)

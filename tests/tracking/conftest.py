"""A campaign sent over a real SMTP server (aiosmtpd) whose messages carry every kind of
recipient link, and helpers to read those links out of the received messages."""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from typing import Any

import pytest

from herald.audit.actors import Actor
from herald.campaigns import actions
from herald.campaigns.models import Campaign, Delivery
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.messaging.actions import do_save_template
from herald.tracking import fastpath, journal, recording
from tests.campaigns.conftest import drain, mailbox, smtp  # noqa: F401 - fixtures

ACTOR = Actor.system("test")
HTML = (
    "<p>Hello ${first_name|there},</p>"
    '<p><a href="https://example.com/offer">See the offer</a> '
    '<a href="https://example.com/terms?a=1&amp;b=2">Terms</a> '
    '<a href="https://example.com/me?id=${customer_id|none}">Your page</a> '
    '<a href="mailto:help@example.com">Write to us</a></p>'
    "<p>Rate our service: "
    + " ".join(f'<a href="${{rating_url_{n}}}">{n}</a>' for n in range(1, 6))
    + '</p><p><a href="${unsubscribe_url}">Unsubscribe</a> '
    '<a href="${view_in_browser_url}">View in your browser</a></p>'
)
PEOPLE = [
    {
        "first_name": "Ann",
        "emails": ["ann@example.com"],
        "language": "fr",
        "fields": {"customer_id": "C1"},
    },
    {
        "first_name": "Bob",
        "emails": ["bob@example.com"],
        "language": "it",
        "fields": {"customer_id": "C2"},
    },
    {
        "first_name": "Cy",
        "emails": ["cy@example.com"],
        "language": "",
        "fields": {"customer_id": "C3"},
    },
]


@pytest.fixture(autouse=True)
def _fresh_tracking_caches() -> Iterator[None]:
    recording.forget()
    yield
    recording.forget()


@dataclass
class Sent:
    campaign: Campaign
    messages: dict[str, email.message.EmailMessage]  # by recipient address

    def delivery(self, address: str) -> Delivery:
        return Delivery.objects.get(campaign=self.campaign, email=address)

    def html(self, address: str) -> str:
        return self.messages[address].get_body(("html",)).get_content()

    def text(self, address: str) -> str:
        return self.messages[address].get_body(("plain",)).get_content()

    def links(self, address: str) -> list[str]:
        """Every href of the HTML part, in order."""
        return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', self.html(address))]

    def path(self, address: str, prefix: str, nth: int = 0) -> str:
        """The path of the nth link starting with BASE_URL + prefix (e.g. "/c/")."""
        from django.conf import settings

        found = [u for u in self.links(address) if u.startswith(settings.BASE_URL + prefix)]
        return found[nth][len(settings.BASE_URL) :]

    def pixel(self, address: str) -> str:
        from django.conf import settings

        src = re.search(r'<img src="([^"]+/o/[^"]+)"', self.html(address)).group(1)
        return src[len(settings.BASE_URL) :]


@pytest.fixture
def send_campaign(smtp, mailbox) -> Callable[..., Sent]:  # noqa: F811
    """Starts a campaign to PEOPLE and sends it all; returns what each recipient received."""

    def send(people: list[dict[str, Any]] | None = None, **fields: Any) -> Sent:
        contact_list = do_create_list(ACTOR, name=f"List {fields.get('name', 'Spring')}")
        do_upsert_contacts(ACTOR, people or PEOPLE, contact_list)
        template = do_save_template(
            ACTOR,
            None,
            name=f"T {fields.get('name', 'Spring')}",
            subject="Hi ${first_name|}",
            html=fields.pop("html", HTML),
        ).template
        fields.setdefault("name", "Spring")
        campaign = actions.do_save_campaign(
            ACTOR, None, lists=[contact_list], mailbox=mailbox, template=template, **fields
        )
        already = len(smtp.received)
        actions.do_start_campaign(ACTOR, campaign)
        drain().close()
        campaign.refresh_from_db()
        messages = {}
        for received in smtp.received[already:]:
            parsed = email.message_from_bytes(received.content, policy=policy.default)
            messages[received.rcpt_tos[0]] = parsed
        return Sent(campaign, messages)

    return send


@pytest.fixture
def tracker(tmp_path, settings) -> Iterator[fastpath.Tracker]:
    """The process's tracker, writing a journal of its own (in a fresh directory)."""
    settings.TRACKING_JOURNAL_DIR = tmp_path / "journal"
    made = fastpath.Tracker(writer=journal.Writer(), resolver=fastpath.Resolver())
    fastpath._tracker[:] = [made]
    yield made
    fastpath._tracker.clear()
    made.writer.stop()
    made.stop()

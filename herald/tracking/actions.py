"""What a recipient changes: unsubscribing (the one tracking action that changes who gets mail).

An unsubscription suppresses the address for good (reason "unsubscribed"), records the event,
sets the list-member status the campaign maps "unsubscribed" to, and — when the campaign has an
opt-out confirmation template — has the worker email a confirmation after the commit. It is
idempotent: a second request (a mail program retrying the one-click POST, a person pressing the
button twice) changes nothing and sends nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.utils import timezone

from herald.accounts.models import Account
from herald.audit.actions import record
from herald.audit.actors import Actor
from herald.campaigns.actions import apply_status_map
from herald.campaigns.models import Campaign, Delivery, Event, EventKind
from herald.contacts.models import Suppression, SuppressionReason, SuppressionSource
from herald.tracking import machines
from herald.tracking.models import Engagement

RECIPIENT = Actor.system("recipient")


@dataclass(frozen=True)
class Unsubscribed:
    delivery: Delivery
    already: bool  # nothing changed: this address had unsubscribed through this message before


def do_unsubscribe(
    delivery: Delivery,
    *,
    via: str,
    user_agent: str = "",
    ip: str = "",
    now: dt.datetime | None = None,
) -> Unsubscribed:
    """Unsubscribes the address a delivery went to (``via``: "one-click" or "page")."""
    from herald.tracking.tasks import send_optout_confirmation

    now = now or timezone.now()
    with transaction.atomic():
        Engagement.objects.bulk_create(
            [Engagement(delivery_id=delivery.pk, campaign_id=delivery.campaign_id)],
            ignore_conflicts=True,
        )
        engagement = Engagement.objects.select_for_update().get(pk=delivery.pk)
        if engagement.unsubscribed_at is not None:
            return Unsubscribed(delivery, already=True)
        engagement.unsubscribed_at = now
        engagement.save(update_fields=["unsubscribed_at"])
        campaign = Campaign.objects.get(pk=delivery.campaign_id)
        address = delivery.email.lower()
        suppression, created = Suppression.objects.get_or_create(
            value=address,
            defaults={
                "reason": SuppressionReason.UNSUBSCRIBED,
                "source": SuppressionSource.CAMPAIGN,
                "note": f"{campaign.name}: unsubscribed ({via})"[:300],
                "created_at": now,
            },
        )
        anonymize = Account.load().anonymize_ips
        Event.objects.create(
            campaign_id=delivery.campaign_id,
            delivery_id=delivery.pk,
            kind=EventKind.UNSUBSCRIBED,
            at=now,
            data={
                "via": via,
                "ua": user_agent[:300],
                "ip": machines.anonymize_ip(ip) if anonymize else ip,
            },
        )
        apply_status_map(campaign, "unsubscribed", [delivery.contact_id])
        if created:
            record(
                RECIPIENT,
                "suppression.unsubscribe",
                suppression,
                {
                    "reason": [None, SuppressionReason.UNSUBSCRIBED],
                    "campaign": [None, campaign.name],
                },
            )
        if campaign.optout_template_id:
            transaction.on_commit(lambda: send_optout_confirmation.enqueue(delivery.pk))
    return Unsubscribed(delivery, already=False)


# -- an opt-out asked for by a reply nobody vouches for ------------------------------------------

_CONFIRM_SALT = "herald.optout.confirm"
CONFIRM_DAYS = 30  # a confirmation link works this long


def optout_confirmation_token(address: str, mailbox_id: int) -> str:
    """The token of a link that suppresses ``address`` once its owner confirms (signed with the
    secret key: only the message sent to that address carries it)."""
    return signing.dumps({"a": address.strip().lower(), "m": mailbox_id}, salt=_CONFIRM_SALT)


def read_optout_confirmation(token: str) -> tuple[str, int] | None:
    """(address, mailbox id) of a confirmation token, or None when it is forged or expired."""
    try:
        data = signing.loads(token, salt=_CONFIRM_SALT, max_age=dt.timedelta(days=CONFIRM_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str):
        return None
    return data["a"], int(data.get("m") or 0)


def do_confirm_optout(address: str, note: str) -> bool:
    """Suppresses ``address`` (an opt-out by reply its owner confirmed); False when it was
    suppressed already."""
    with transaction.atomic():
        suppression, created = Suppression.objects.get_or_create(
            value=address[:320],
            defaults={
                "reason": SuppressionReason.OPT_OUT,
                "source": SuppressionSource.CONVERSATION,
                "note": note[:300],
            },
        )
        if created:
            record(
                RECIPIENT,
                "suppression.optout_confirmed",
                suppression,
                {"reason": [None, SuppressionReason.OPT_OUT]},
            )
    return created

"""What each captured event says to a webhook receiver: its type, the object it is about (its
messages go out in order), and its data.

Types: ``delivery.<kind>`` for what happened to one campaign message (sent, deferred, failed,
bounced, soft_bounced, delayed, opened, clicked, rated, replied, unsubscribed, complained,
autoreplied, skipped); ``campaign.<kind>`` (launched, paused, resumed, completed, cancelled);
``conversation.<kind>`` (created, received, taken, assigned, replied, closed, ...);
``import.finished``; ``suppression.<reason>`` when an address or domain is added to the
suppression list (``suppression.opt_out``: an opt-out keyword; ``suppression.unsubscribed``: the
unsubscribe link; hard_bounce, complaint, soft_bounces, manual); ``list.refresh_failed`` when a
scheduled list refresh fails; ``disposition.sent``, ``.failed`` and ``.skipped`` for the email a
call's disposition triggered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from herald.campaigns.models import Event, EventKind
from herald.contacts.models import (
    Address,
    ImportJob,
    RefreshRun,
    Suppression,
    SuppressionReason,
)
from herald.conversations.models import ConversationEvent, ConversationEventKind

CAMPAIGN_KINDS = {"launched", "paused", "resumed", "completed", "cancelled"}
DELIVERY_KINDS = [k for k in EventKind.values if k not in CAMPAIGN_KINDS]
EVENT_TYPES = sorted(
    [f"delivery.{k}" for k in DELIVERY_KINDS]
    + [f"campaign.{k}" for k in CAMPAIGN_KINDS]
    + [f"conversation.{k}" for k in ConversationEventKind.values]
    + ["import.finished", "list.refresh_failed"]
    + ["disposition.sent", "disposition.failed", "disposition.skipped"]
    + [f"suppression.{r}" for r in SuppressionReason.values if r != SuppressionReason.ERASED]
)
_INTERNAL = {"tally", "counted"}  # bookkeeping of the statistics, not news


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    out = {k: v for k, v in data.items() if k not in _INTERNAL}
    tally = data.get("tally")
    if isinstance(tally, list) and ("human" in tally or "machine" in tally):
        out["human"] = "human" in tally  # an open or click by a person, not a scanner
    return out


Built = tuple[str, str, dict[str, Any]]  # (type, object key, payload)


def campaign_events(ids: list[int]) -> dict[int, Built]:
    out: dict[int, Built] = {}
    rows = Event.objects.filter(pk__in=ids).select_related("delivery")
    for event in rows:
        if event.delivery_id is None or event.kind in CAMPAIGN_KINDS:
            kind, key = f"campaign.{event.kind}", f"campaign:{event.campaign_id}"
            data: dict[str, Any] = {"campaign_id": event.campaign_id}
        else:
            delivery = event.delivery
            kind, key = f"delivery.{event.kind}", f"delivery:{event.delivery_id}"
            data = {
                "campaign_id": event.campaign_id,
                "delivery_id": event.delivery_id,
                "contact_id": getattr(delivery, "contact_id", None),
                "email": getattr(delivery, "email", ""),
            }
        data.update(event_id=event.pk, code=event.code, detail=event.detail)
        data.update(_data(event.data))
        out[event.pk] = (kind, key, {"type": kind, "timestamp": _iso(event.at), "data": data})
    return out


def conversation_events(ids: list[int]) -> dict[int, Built]:
    out: dict[int, Built] = {}
    rows = ConversationEvent.objects.filter(pk__in=ids).select_related(
        "conversation", "conversation__wrapup_reason"
    )
    for event in rows:
        conversation = event.conversation
        kind = f"conversation.{event.kind}"
        data = {
            "conversation_id": conversation.pk,
            "mailbox_id": conversation.mailbox_id,
            "contact_id": conversation.contact_id,
            "status": conversation.status,
            "assignee_id": conversation.assignee_id,
            "actor": event.actor_label,
            "detail": event.detail,
            **_data(event.data),
        }
        if event.kind == ConversationEventKind.CLOSED:
            reason = conversation.wrapup_reason
            data["wrap_up_reason"] = reason.name if reason is not None else None
            data["wrap_up_note"] = conversation.wrapup_note
        key = f"conversation:{conversation.pk}"
        out[event.pk] = (kind, key, {"type": kind, "timestamp": _iso(event.at), "data": data})
    return out


def import_events(ids: list[int]) -> dict[int, Built]:
    out: dict[int, Built] = {}
    for job in ImportJob.objects.filter(pk__in=ids):
        data = {
            "import_id": job.pk,
            "list_id": job.contact_list_id,
            "status": job.status,
            "imported": job.imported,
            "rejected": job.rejected,
            "error": job.error,
        }
        at = job.finished_at or job.created_at
        kind, key = "import.finished", f"import:{job.pk}"
        out[job.pk] = (kind, key, {"type": kind, "timestamp": _iso(at), "data": data})
    return out


def suppression_events(ids: list[int]) -> dict[int, Built]:
    out: dict[int, Built] = {}
    rows = list(Suppression.objects.filter(pk__in=ids))
    contacts = dict(
        Address.objects.filter(email_key__in=[r.value for r in rows if not r.is_domain])
        .order_by("-contact_id")
        .values_list("email_key", "contact_id")
    )  # the oldest contact with the address wins (the last one written)
    for row in rows:
        data = {
            "suppression_id": row.pk,
            "value": row.value,
            "is_domain": row.is_domain,
            "reason": row.reason,
            "source": row.source,
            "note": row.note,
            "contact_id": None if row.is_domain else contacts.get(row.value),
        }
        kind, key = f"suppression.{row.reason}", f"suppression:{row.value}"
        out[row.pk] = (kind, key, {"type": kind, "timestamp": _iso(row.created_at), "data": data})
    return out


def refresh_events(ids: list[int]) -> dict[int, Built]:
    out: dict[int, Built] = {}
    for run in RefreshRun.objects.filter(pk__in=ids).select_related("contact_list"):
        data = {
            "list_id": run.contact_list_id,
            "list_name": run.contact_list.name,
            "run_id": run.pk,
            "source": run.source,
            "error": run.error,
            "import_id": run.job_id,
        }
        kind, key = "list.refresh_failed", f"list:{run.contact_list_id}"
        at = run.finished_at or run.started_at
        out[run.pk] = (kind, key, {"type": kind, "timestamp": _iso(at), "data": data})
    return out


def disposition_events(ids: list[int]) -> dict[int, Built]:
    from herald.dispositions.models import Disposition

    out: dict[int, Built] = {}
    for row in Disposition.objects.filter(pk__in=ids):
        data = {
            "disposition_id": row.pk,
            "call_id": row.call_id,
            "code": row.code,
            "contact_id": row.contact_id,
            "email": row.email,
            "agent": row.agent,
            "state": row.state,
            "reason": row.reason,
            "message_id": row.message_id,
        }
        kind, key = f"disposition.{row.state}", f"disposition:{row.pk}"
        at = row.sent_at or row.created_at
        out[row.pk] = (kind, key, {"type": kind, "timestamp": _iso(at), "data": data})
    return out


BUILDERS = {
    "e": campaign_events,
    "c": conversation_events,
    "i": import_events,
    "s": suppression_events,
    "r": refresh_events,
    "d": disposition_events,
}

"""Writing the audit history. Every configuration action calls ``record`` inside its transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models, transaction

from herald.audit.actors import Actor
from herald.audit.models import AuditEvent, AuditWord
from herald.audit.search import event_words

SECRET = "•••"  # noqa: S105  # what the history shows for a secret's before and after


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of ``fields`` on ``obj``, JSON-ready (foreign keys as their str)."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model) or (
            value is not None and not isinstance(value, str | int | float | bool | list | dict)
        ):
            value = str(value)
        values[name] = value
    return values


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], secret: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """Field-level changes ``{field: [before, after]}``; secret fields never show their values."""
    secret = set(secret)
    changes: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changes[name] = [SECRET, SECRET] if name in secret else [old, new]
    return changes


def record(
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    changes: Mapping[str, list[Any]] | None = None,
    *,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Appends one event to the history. Must run inside the transaction of the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must be called inside the transaction of the change")
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    event = AuditEvent.objects.create(
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=actor.label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        changes=dict(changes or {}),
    )
    AuditWord.objects.bulk_create(
        AuditWord(word=word, event=event)
        for word in event_words(event.actor_label, action, object_type, event.object_repr)
    )
    return event


def forget(events: models.QuerySet[AuditEvent], object_repr: str) -> int:
    """Keeps who did what and when in ``events`` but not the values: their changes are emptied
    and their object named ``object_repr`` (an erased contact), in the search index too."""
    rows = list(events.values_list("id", "actor_label", "action", "object_type"))
    events.update(changes={}, object_repr=object_repr)
    AuditWord.objects.filter(event_id__in=[row[0] for row in rows]).delete()
    AuditWord.objects.bulk_create(
        AuditWord(word=word, event_id=ident)
        for ident, label, action, object_type in rows
        for word in event_words(label, action, object_type, object_repr)
    )
    return len(rows)

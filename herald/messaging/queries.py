"""Reads that matter: compiled versions (cached per process) and the preview's contact lookup."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from herald.messaging.actions import source_of
from herald.messaging.compiling import EventSource, Prepared, Report, compile_prepared, prepare
from herald.messaging.models import Signature, TemplateAttachment, TemplateVersion
from herald.messaging.rendering import Attachment, CompiledTemplate

# Compiling a version costs about a millisecond and rendering tens of microseconds: a sender
# compiles each (version, mailbox signature, attachments) once per process and keeps it. Versions
# never change once written, so the cache needs no invalidation; it is bounded for long runs.
_CACHE: dict[tuple[Any, ...], CompiledTemplate] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 256


def _attachments(template_id: int) -> tuple[Attachment, ...]:
    found = []
    for a in TemplateAttachment.objects.filter(template_id=template_id).order_by("id"):
        with a.file.open("rb") as f:
            found.append(Attachment(a.filename, a.content_type, f.read()))
    return tuple(found)


def prepared_version(
    version: TemplateVersion, mailbox_signature: Signature | None = None
) -> Prepared:
    """The Jinja2 sources a version is sent with: as stored, or prepared again with the
    mailbox's signature when the version chose none (the signature's links get numbers too)."""
    if mailbox_signature is not None and not version.source.get("signature_id"):
        return prepare(source_of(version.source, mailbox_signature.html))
    return Prepared(
        subject=version.compiled_subject,
        html=version.compiled_html,
        text=version.compiled_text,
        direction=version.source.get("direction", "ltr"),
        language=version.source.get("language", "en"),
        include_company_name=bool(version.source.get("include_company_name")),
        event=EventSource(**version.compiled_event) if version.compiled_event else None,
        report=Report(variables=version.report.get("variables", [])),
    )


def compiled_version(
    version: TemplateVersion, mailbox_signature: Signature | None = None
) -> CompiledTemplate:
    """The compiled template of a version, with the mailbox's signature if it chose none."""
    use_mailbox_signature = mailbox_signature is not None and not version.source.get("signature_id")
    attachment_ids = tuple(
        TemplateAttachment.objects.filter(template_id=version.template_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    signature_id = mailbox_signature.pk if use_mailbox_signature and mailbox_signature else None
    # created_at too: SQLite may hand a deleted template's version id to a new version.
    key = (version.pk, version.created_at, signature_id, attachment_ids)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    prepared = prepared_version(version, mailbox_signature)
    compiled = compile_prepared(
        prepared,
        key=f"v{version.pk}",
        attachments=_attachments(version.template_id),
        uid_seed=f"template-{version.template_id}",
    )
    with _CACHE_LOCK:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = compiled
    return compiled


@dataclass(frozen=True)
class ListContact:
    position: int  # 0-based, within the list's members ordered by id
    total: int
    label: str
    variables: dict[str, object]


def contact_lists() -> list[tuple[int, str]]:
    """The contact lists a preview can draw contacts from (none before contacts exist)."""
    try:
        from herald.contacts.models import ContactList
    except ImportError:
        return []
    return list(ContactList.objects.order_by("name").values_list("id", "name"))


def list_contact(list_id: int, position: int) -> ListContact | None:
    """The contact at ``position`` of a list (wrapping around), for next/previous in the preview.

    Members are ordered by id, so "next" is stable while the list is imported into; OFFSET is
    fine here: one row for one person clicking through a preview, not a sending loop.
    """
    try:
        from herald.contacts.models import ListMember
    except ImportError:
        return None
    members = ListMember.objects.filter(contact_list_id=list_id).order_by("id")
    total = members.count()
    if total == 0:
        return None
    position %= total
    member = members.select_related("contact")[position]
    contact = member.contact
    return ListContact(position, total, str(contact), dict(contact.variables()))

"""Changes to templates, signatures and attachments, and test-send requests.

Each one transaction; each configuration change audited. Every save of a template writes a new
TemplateVersion; the audit row carries field-level changes, and for the HTML and text bodies a
unified diff (``{"html": ["v3", "--- v3\\n+++ v4\\n@@ ..."]}``) since whole bodies would not be
readable side by side.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.accounts.models import User
from herald.audit.actions import diff, record
from herald.audit.actors import Actor
from herald.core.deletion import refuse_if
from herald.mailboxes.models import Mailbox
from herald.messaging.compiling import EventSource, Prepared, Report, TemplateSource, prepare
from herald.messaging.models import (
    VERSIONED_FIELDS,
    Signature,
    Template,
    TemplateAttachment,
    TemplateVersion,
    TestSend,
)

LONG_FIELDS = ("html", "text")
MB = 1024 * 1024


@dataclass(frozen=True)
class Saved:
    template: Template
    version: TemplateVersion
    report: Report


def source_of(fields: dict[str, Any], signature_html: str = "") -> TemplateSource:
    """The pure-module view of a template's fields (a Template's or a version's)."""
    event = None
    if fields.get("event_enabled"):
        event = EventSource(
            title=fields.get("event_title", ""),
            organizer=fields.get("event_organizer", ""),
            location=fields.get("event_location", ""),
            start=fields.get("event_start", ""),
            end=fields.get("event_end", ""),
            timezone=fields.get("event_timezone") or "UTC",
        )
    return TemplateSource(
        subject=fields.get("subject", ""),
        html=fields.get("html", ""),
        text=fields.get("text", ""),
        direction=fields.get("direction", "ltr"),
        language=fields.get("language", "en"),
        include_company_name=bool(fields.get("include_company_name")),
        signature_html=signature_html,
        event=event,
    )


def fields_of(template: Template) -> dict[str, Any]:
    return {name: getattr(template, name) for name in VERSIONED_FIELDS}


def _signature_html(signature_id: int | None) -> str:
    if not signature_id:
        return ""
    signature = Signature.objects.filter(pk=signature_id).first()
    return signature.html if signature else ""


def _attachment_notes(template: Template | None, report: Report) -> None:
    if template is None or template.pk is None:
        return
    total = template.attachments.aggregate(total=Sum("size"))["total"] or 0
    if total > settings.TEMPLATE_ATTACHMENTS_WARN_MB * MB:
        report.warnings.append(
            _("Attachments total %(mb).1f MB: above 10 MB many mail servers refuse a message.")
            % {"mb": total / MB}
        )


def _changes(before: dict[str, Any], after: dict[str, Any], old_n: int, new_n: int) -> dict:
    changes = diff(
        {k: v for k, v in before.items() if k not in LONG_FIELDS},
        {k: v for k, v in after.items() if k not in LONG_FIELDS},
    )
    for name in LONG_FIELDS:
        old, new = before.get(name) or "", after.get(name) or ""
        if old != new:
            lines = difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"v{old_n}", f"v{new_n}", lineterm="", n=1
            )
            changes[name] = [f"v{old_n}" if old_n else None, "\n".join(lines)]
    return changes


def _store(
    actor: Actor,
    template: Template,
    fields: dict[str, Any],
    prepared: Prepared,
    *,
    action: str,
    restored_from: int | None = None,
) -> Saved:
    is_new = template.pk is None
    before = {} if is_new else fields_of(template)
    for name, value in fields.items():
        setattr(template, name, value)
    current = template.current_version
    unchanged = (
        current is not None
        and restored_from is None
        and fields_of(template) == before
        and (current.compiled_subject, current.compiled_html, current.compiled_text)
        == (prepared.subject, prepared.html, prepared.text)
    )
    if unchanged and current is not None:  # saved as it was, signature too: no new version
        return Saved(template, current, prepared.report)
    template.updated_at = timezone.now()
    template.save()
    last = template.versions.aggregate(n=Max("number"))["n"] or 0
    report = prepared.report
    _attachment_notes(template, report)
    version = TemplateVersion.objects.create(
        template=template,
        number=last + 1,
        created_by=actor.label[:200],
        restored_from=restored_from,
        source=fields_of(template),
        compiled_subject=prepared.subject,
        compiled_html=prepared.html,
        compiled_text=prepared.text,
        compiled_event=None if prepared.event is None else asdict(prepared.event),
        report=asdict(report),
    )
    template.current_version = version
    template.save(update_fields=["current_version"])
    changes = _changes(before, fields_of(template), last, version.number)
    changes["version"] = [last or None, version.number]
    if restored_from is not None:
        changes["restored_from"] = [None, restored_from]
    record(actor, action, template, changes)
    return Saved(template, version, report)


def _clean_fields(template: Template, fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(VERSIONED_FIELDS)
    if unknown:
        raise TypeError(f"cannot set {', '.join(sorted(unknown))} on a template")
    merged = {**fields_of(template), **fields}
    if not str(merged.get("name") or "").strip():
        raise ValidationError({"name": _("Give the template a name.")})
    signature_id = fields.get("signature_id")
    if signature_id and not Signature.objects.filter(pk=signature_id).exists():
        raise ValidationError(
            {"signature_id": _("There is no signature %(id)s.") % {"id": signature_id}}
        )
    return merged


@transaction.atomic
def do_save_template(
    actor: Actor,
    template: Template | None,
    known_columns: Iterable[str] | None = None,
    **fields: Any,
) -> Saved:
    """Creates or changes a template: validates, prepares, and keeps the result as a new version.
    A variable no contact column provides is reported (``known_columns``: by default, those
    contacts have, ``herald.contacts.queries.custom_columns``).

    Raises ``TemplateInvalidError`` (nothing saved) when the template has errors.
    """
    if known_columns is None:
        from herald.contacts.queries import custom_columns

        known_columns = custom_columns()
    template = template if template is not None else Template()
    merged = _clean_fields(template, fields)
    prepared = prepare(
        source_of(merged, _signature_html(merged.get("signature_id"))), known_columns
    )
    if template.pk is not None:
        template = Template.objects.select_for_update().get(pk=template.pk)
    action = "template.create" if template.pk is None else "template.change"
    return _store(actor, template, merged, prepared, action=action)


@transaction.atomic
def do_restore_version(actor: Actor, version: TemplateVersion) -> Saved:
    """Makes an old version current again, as a new version (history is never rewritten)."""
    template = Template.objects.select_for_update().get(pk=version.template_id)
    fields = {k: v for k, v in version.source.items() if k in VERSIONED_FIELDS}
    if fields.get("signature_id") and not Signature.objects.filter(pk=fields["signature_id"]):
        fields["signature_id"] = None  # the signature was deleted since
    prepared = prepare(source_of(fields, _signature_html(fields.get("signature_id"))))
    return _store(
        actor, template, fields, prepared, action="template.restore", restored_from=version.number
    )


@transaction.atomic
def do_delete_template(actor: Actor, template: Template) -> None:
    """Deletes a template; refused while a campaign or a mailbox uses it (a campaign keeps the
    template it sent; a mailbox's automatic answer would silently stop)."""
    from herald.campaigns.models import Campaign
    from herald.dispositions.actions import rules_using
    from herald.mailboxes.models import Mailbox

    campaigns = Campaign.objects.filter(
        Q(template=template) | Q(optout_template=template)
    ).order_by("name")
    reasons = [_("campaign “%(name)s” uses it") % {"name": c.name} for c in campaigns[:10]]
    mailboxes = Mailbox.objects.filter(
        Q(ack_template=template) | Q(optout_template=template)
    ).order_by("name")
    reasons += [_("mailbox “%(name)s” answers with it") % {"name": m.name} for m in mailboxes[:10]]
    reasons += rules_using(template=template)
    refuse_if(_("The template “%(name)s”") % {"name": template.name}, reasons)
    record(actor, "template.delete", template, {"name": [template.name, None]})
    template.delete()


@transaction.atomic
def do_add_attachment(actor: Actor, template: Template, upload: UploadedFile) -> TemplateAttachment:
    """Stores a file with the template; refuses it above the configured total size."""
    size = upload.size or 0
    total = (template.attachments.aggregate(total=Sum("size"))["total"] or 0) + size
    limit = settings.TEMPLATE_ATTACHMENTS_MAX_MB
    if total > limit * MB:
        raise ValidationError(
            _(
                "Attachments may total at most %(limit)d MB; "
                "with this file they would be %(mb).1f MB."
            )
            % {"limit": limit, "mb": total / MB}
        )
    name = (upload.name or "attachment").rsplit("/", 1)[-1]
    attachment = TemplateAttachment(
        template=template,
        filename=name,
        content_type=upload.content_type or "application/octet-stream",
        size=size,
    )
    attachment.file.save(name, upload, save=False)
    attachment.save()
    record(actor, "template.attachment_add", template, {"attachment": [None, name]})
    return attachment


@transaction.atomic
def do_remove_attachment(actor: Actor, attachment: TemplateAttachment) -> None:
    template = attachment.template
    name = attachment.filename
    storage, path = attachment.file.storage, attachment.file.name or ""
    attachment.delete()
    if path:
        transaction.on_commit(lambda: storage.delete(path))
    record(actor, "template.attachment_remove", template, {"attachment": [name, None]})


@transaction.atomic
def do_save_signature(
    actor: Actor, signature: Signature | None, *, name: str, html: str
) -> Signature:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the signature a name.")})
    # A signature is checked as a template body would be, so that errors show here, not later.
    prepare(TemplateSource(subject="signature", html=html or " "))
    before = {} if signature is None else {"name": signature.name, "html": signature.html}
    signature = signature or Signature()
    signature.name, signature.html = name, html
    signature.save()
    action = "signature.change" if before else "signature.create"
    record(actor, action, signature, diff(before, {"name": name, "html": html}))
    return signature


@transaction.atomic
def do_request_test_send(
    actor: Actor,
    version: TemplateVersion,
    mailbox: Mailbox,
    to: str,
    variables: dict[str, Any],
    *,
    requested_by: User | None = None,
) -> TestSend:
    """Queues a test message; the worker renders and sends it (web requests never wait on SMTP)."""
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ValidationError(
            {"to": _("%(to)s is not a valid email address.") % {"to": to}}
        ) from None
    test = TestSend.objects.create(
        version=version, mailbox=mailbox, to=to, variables=variables, requested_by=requested_by
    )
    from herald.messaging.tasks import send_test_message

    transaction.on_commit(lambda: send_test_message.enqueue(test.pk))
    return test

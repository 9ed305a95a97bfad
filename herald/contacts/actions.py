"""Changes to contacts, lists, suppressions and imports. Each one transaction; configuration
changes and suppression removals are audited (an import is one audit event, written when it ends).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor
from herald.campaigns import windows
from herald.contacts import addresses, csvfile
from herald.contacts.models import (
    MAX_ADDRESSES,
    Address,
    AddressState,
    Contact,
    ContactList,
    ContactPerson,
    ImportJob,
    ImportMapping,
    ImportMode,
    ImportStatus,
    ListMember,
    ListRefresh,
    Suppression,
    SuppressionReason,
    SuppressionSource,
    field_name,
)
from herald.contacts.rows import guess_mapping, mapping_errors
from herald.core.deletion import refuse_if

LIST_FIELDS = ("name", "description", "channel")
MAX_UPSERT = 1000  # contacts per API call


def _user(actor: Actor) -> Any:
    return actor.user


@transaction.atomic
def do_create_list(
    actor: Actor, *, name: str, description: str = "", channel: str = "email"
) -> ContactList:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A list needs a name.")})
    if ContactList.objects.filter(name=name).exists():
        raise ValidationError({"name": _("A list with this name already exists.")})
    contact_list = ContactList.objects.create(name=name, description=description, channel=channel)
    record(
        actor, "contact_list.create", contact_list, diff({}, snapshot(contact_list, LIST_FIELDS))
    )
    return contact_list


@transaction.atomic
def do_change_list(actor: Actor, contact_list: ContactList, **fields: Any) -> ContactList:
    before = snapshot(contact_list, LIST_FIELDS)
    for name, value in fields.items():
        if name not in LIST_FIELDS:
            raise ValidationError({name: _("This field cannot be changed.")})
        setattr(contact_list, name, value.strip() if isinstance(value, str) else value)
    if not contact_list.name:
        raise ValidationError({"name": _("A list needs a name.")})
    if ContactList.objects.filter(name=contact_list.name).exclude(pk=contact_list.pk).exists():
        raise ValidationError({"name": _("A list with this name already exists.")})
    contact_list.save()
    changes = diff(before, snapshot(contact_list, LIST_FIELDS))
    if changes:
        record(actor, "contact_list.change", contact_list, changes)
    return contact_list


@transaction.atomic
def do_delete_list(actor: Actor, contact_list: ContactList) -> None:
    """Deletes a list (its memberships, not its contacts); refused while a campaign that has not
    finished uses it, or an import into it runs."""
    from herald.campaigns.models import CampaignStatus

    unfinished = contact_list.campaigns.exclude(
        status__in=[CampaignStatus.COMPLETED, CampaignStatus.CANCELLED]
    )
    reasons = [
        _("campaign “%(name)s” (%(status)s) sends to it")
        % {"name": c.name, "status": c.get_status_display()}
        for c in unfinished.order_by("name")[:10]
    ]
    if contact_list.imports.filter(status__in=["queued", "running"]).exists():
        reasons.append(_("an import into it is running"))
    refuse_if(_("The list “%(name)s”") % {"name": contact_list.name}, reasons)
    record(
        actor, "contact_list.delete", contact_list, diff(snapshot(contact_list, LIST_FIELDS), {})
    )
    contact_list.delete()


@transaction.atomic
def do_check_mx(actor: Actor, contact_list: ContactList) -> None:
    """Queues the MX check of the list's address domains (herald.contacts.mx), a background job."""
    from herald.contacts.tasks import check_mx_task

    record(actor, "contact_list.check_mx", contact_list, {})
    list_id = contact_list.pk
    transaction.on_commit(lambda: check_mx_task.enqueue(list_id))


# -- suppression --------------------------------------------------------------------------------


def _suppression_value(text: str) -> tuple[str, bool]:
    """``@example.com`` or ``example.com`` is a domain; anything with a local part an address."""
    text = text.strip()
    if text.startswith("@") or ("@" not in text and "." in text):
        domain = text.lstrip("@")
        normalized, error = addresses.validate(f"a@{domain}")
        if error:
            raise ValidationError({"value": _("%(v)s is not a valid domain.") % {"v": domain}})
        return addresses.domain_of(normalized), True
    normalized, error = addresses.validate(text)
    if error:
        raise ValidationError({"value": f"{text}: {error}"})
    return addresses.key(normalized), False


@transaction.atomic
def do_add_suppression(
    actor: Actor,
    value: str,
    *,
    reason: str = SuppressionReason.MANUAL,
    source: str = SuppressionSource.USER,
    note: str = "",
) -> Suppression:
    """Adds an address or a domain (``@example.com``) to the do-not-email list (idempotent)."""
    key, is_domain = _suppression_value(value)
    entry, created = Suppression.objects.get_or_create(
        value=key,
        defaults={
            "is_domain": is_domain,
            "reason": reason,
            "source": source,
            "note": note,
            "created_by": _user(actor),
        },
    )
    if created and source == SuppressionSource.USER:
        record(actor, "suppression.add", entry, {"reason": [None, reason]})
    return entry


@dataclass
class BulkSuppressionResult:
    added: int
    already: int
    invalid: list[tuple[int, str, str]]  # (line, text, error)


@transaction.atomic
def do_bulk_add_suppressions(
    actor: Actor, lines: Iterable[str], *, reason: str = SuppressionReason.MANUAL
) -> BulkSuppressionResult:
    """One address or domain per line (a CSV's first column); one audit event for the file."""
    result = BulkSuppressionResult(0, 0, [])
    wanted: dict[str, bool] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split(",")[0].split(";")[0].strip().strip('"')
        if not text or (number == 1 and "@" not in text and "." not in text):
            continue  # blank line or a header
        try:
            key, is_domain = _suppression_value(text)
        except ValidationError as exc:
            result.invalid.append((number, text, " ".join(exc.messages)))
            continue
        wanted[key] = is_domain
    existing = set(
        Suppression.objects.filter(value__in=list(wanted)).values_list("value", flat=True)
    )
    new = [
        Suppression(
            value=k,
            is_domain=d,
            reason=reason,
            source=SuppressionSource.USER,
            created_by=_user(actor),
        )
        for k, d in wanted.items()
        if k not in existing
    ]
    Suppression.objects.bulk_create(new, batch_size=1000)
    result.added, result.already = len(new), len(existing)
    record(
        actor,
        "suppression.bulk_add",
        None,
        {"added": [None, result.added]},
        object_type="suppression",
        object_repr=f"{result.added} entries",
    )
    return result


@transaction.atomic
def do_remove_suppression(actor: Actor, entry: Suppression) -> None:
    """Lets Herald write to the address or domain again: a manager's decision, audited."""
    record(
        actor,
        "suppression.remove",
        entry,
        {
            "value": [entry.value, None],
            "reason": [entry.reason, None],
            "source": [entry.source, None],
        },
    )
    entry.delete()


# -- contacts -----------------------------------------------------------------------------------

CONTACT_FIELDS = ("external_id", "first_name", "last_name", "company", "language", "timezone")


def set_addresses(contact: Contact, emails: Sequence[str | dict[str, str]]) -> None:
    """Replaces the contact's addresses (up to 3, in order, each checked: an invalid one is
    kept marked invalid with the reason)."""
    if len(emails) > MAX_ADDRESSES:
        raise ValidationError({"emails": _("At most 3 addresses per contact.")})
    contact.addresses.all().delete()
    for position, item in enumerate(emails, start=1):
        raw, label = (
            (item, "") if isinstance(item, str) else (item.get("email", ""), item.get("label", ""))
        )
        normalized, error = addresses.validate(raw)
        Address.objects.create(
            contact=contact,
            position=position,
            email=normalized,
            email_key=normalized.lower(),
            label=label[:50],
            state=AddressState.VALID if error is None else AddressState.INVALID,
            error=(error or "")[:300],
        )


def _contact_state(contact: Contact) -> dict[str, Any]:
    state = {**snapshot(contact, CONTACT_FIELDS), "fields": dict(contact.fields)}
    state["emails"] = [a.email for a in contact.addresses.order_by("position")]
    return state


def _clean_fields(fields: object) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise ValidationError({"fields": _("Custom fields are a set of names and values.")})
    named = {field_name(str(k)): v for k, v in fields.items()}
    if "" in named:
        raise ValidationError({"fields": _("A custom field needs a name of letters.")})
    return named


def _clean_emails(emails: Sequence[str]) -> list[str]:
    cleaned = []
    for raw in (e for e in emails if e and e.strip()):
        normalized, error = addresses.validate(raw)
        if error:
            raise ValidationError({"emails": f"{raw.strip()}: {error}"})
        cleaned.append(normalized)
    if len(cleaned) > MAX_ADDRESSES:
        raise ValidationError({"emails": _("At most 3 addresses per contact.")})
    return cleaned


@transaction.atomic
def do_change_contact(
    actor: Actor,
    contact: Contact,
    *,
    emails: Sequence[str] | None = None,
    fields: dict[str, Any] | None = None,
    **values: Any,
) -> Contact:
    """Changes a contact: any of ``CONTACT_FIELDS``, its addresses (``emails``: up to 3, in
    order; an invalid one is refused, not stored) and its custom ``fields`` (replaced as a
    whole). Audited with what changed."""
    if contact.erased_at is not None:
        raise ValidationError(_("This contact was erased."))
    unknown = sorted(set(values) - set(CONTACT_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: _("This field cannot be changed.")})
    before = _contact_state(contact)
    for name, value in values.items():
        text = value.strip() if isinstance(value, str) else ""
        setattr(contact, name, text or (None if name == "external_id" else ""))
    if fields is not None:
        contact.fields = _clean_fields(fields)
    contact.full_clean(exclude=["fields"])
    if emails is not None:
        cleaned = _clean_emails(emails)
        if cleaned != before["emails"]:
            set_addresses(contact, cleaned)
    contact.updated_at = timezone.now()
    contact.save()
    changes = diff(before, _contact_state(contact))
    if changes:
        record(actor, "contact.change", contact, changes)
    return contact


@dataclass
class UpsertResult:
    created: int
    updated: int
    errors: list[dict[str, Any]]


@transaction.atomic
def do_upsert_contacts(
    actor: Actor, items: Sequence[dict[str, Any]], contact_list: ContactList | None = None
) -> UpsertResult:
    """Creates or updates up to 1,000 contacts, matched on external id, else on first address.

    Each item: external_id, first_name, last_name, company, language, timezone, emails (up to
    3 strings or {email, label}), fields (a dict). Bad items are reported, the others applied.
    """
    if len(items) > MAX_UPSERT:
        raise ValidationError({"contacts": _("At most 1,000 contacts per call.")})
    result = UpsertResult(0, 0, [])
    now = timezone.now()
    for index, item in enumerate(items):
        emails = item.get("emails") or []
        first = emails[0] if emails else ""
        first = first if isinstance(first, str) else first.get("email", "")
        normalized, error = addresses.validate(first) if first else ("", "no email address")
        if error:
            result.errors.append({"index": index, "error": error})
            continue
        contact = None
        if item.get("external_id"):
            contact = Contact.objects.filter(external_id=item["external_id"]).first()
        if contact is None and not item.get("external_id"):
            address = (
                Address.objects.filter(email_key=normalized.lower()).order_by("contact_id").first()
            )
            contact = address.contact if address else None
        created = contact is None
        contact = contact or Contact(created_at=now)
        for name in CONTACT_FIELDS:
            if name in item and item[name] is not None:
                setattr(contact, name, item[name] or (None if name == "external_id" else ""))
        contact.fields = {
            **contact.fields,
            **{field_name(k): v for k, v in (item.get("fields") or {}).items()},
        }
        contact.updated_at = now
        try:
            contact.full_clean(exclude=["fields"])
        except ValidationError as exc:
            result.errors.append({"index": index, "error": "; ".join(exc.messages)})
            continue
        contact.save()
        set_addresses(contact, emails)
        if contact_list is not None:
            ListMember.objects.get_or_create(contact_list=contact_list, contact=contact)
        if created:
            result.created += 1
        else:
            result.updated += 1
    return result


# -- contact persons ----------------------------------------------------------------------------

PERSON_FIELDS = ("name", "role", "email")


def _clean_person(person: ContactPerson) -> None:
    person.name, person.role = person.name.strip(), person.role.strip()
    if person.email.strip():
        normalized, error = addresses.validate(person.email)
        if error:
            raise ValidationError({"email": f"{person.email.strip()}: {error}"})
        person.email = normalized
    else:
        person.email = ""
    if not person.name:
        raise ValidationError({"name": _("A contact person needs a name.")})
    person.full_clean(exclude=["contact"])


@transaction.atomic
def do_add_person(
    actor: Actor, contact: Contact, *, name: str, role: str = "", email: str = ""
) -> ContactPerson:
    """Adds someone to write to under a (company) contact."""
    person = ContactPerson(contact=contact, name=name, role=role, email=email)
    _clean_person(person)
    person.save()
    record(actor, "contact_person.add", person, diff({}, snapshot(person, PERSON_FIELDS)))
    return person


@transaction.atomic
def do_change_person(actor: Actor, person: ContactPerson, **fields: str) -> ContactPerson:
    before = snapshot(person, PERSON_FIELDS)
    for name, value in fields.items():
        if name not in PERSON_FIELDS:
            raise ValidationError({name: _("This field cannot be changed.")})
        setattr(person, name, value)
    _clean_person(person)
    person.save()
    changes = diff(before, snapshot(person, PERSON_FIELDS))
    if changes:
        record(actor, "contact_person.change", person, changes)
    return person


@transaction.atomic
def do_remove_person(actor: Actor, person: ContactPerson) -> None:
    record(actor, "contact_person.remove", person, diff(snapshot(person, PERSON_FIELDS), {}))
    person.delete()


# -- imports ------------------------------------------------------------------------------------


def _upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(source: IO[bytes] | Path, original_name: str) -> Path:
    """Copies an uploaded file (or a local one) under MEDIA_ROOT/imports: the job reads it from
    there, possibly after a restart, possibly on another machine sharing the media folder."""
    target = _upload_dir() / f"{uuid.uuid4().hex}-{Path(original_name).name[-100:]}"
    if isinstance(source, Path):
        shutil.copyfile(source, target)
    else:
        with target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    return target


@transaction.atomic
def do_create_import(
    actor: Actor,
    contact_list: ContactList,
    path: Path,
    *,
    original_name: str = "",
    encoding: str = "",
    mode: str = ImportMode.ADD,
) -> ImportJob:
    """Reads the file's header and preview; raises csvfile.FileRefused for a file that cannot
    be a contact list. The job waits for its mapping (``do_start_import``)."""
    info = csvfile.inspect(path, encoding)
    columns = guess_mapping(info.header)
    if not any(t.startswith("email") for t in columns.values()) and not any(
        "@" in value for row in info.preview for value in row
    ):
        raise csvfile.FileRefused(
            _("No column holds email addresses: add an address column (e.g. 'email') to the file.")
        )
    return ImportJob.objects.create(
        contact_list=contact_list,
        file=str(info.path),
        original_name=original_name or path.name,
        size=info.size,
        mode=mode,
        encoding=info.encoding,
        delimiter=info.delimiter,
        header=info.header,
        columns=columns,
        status=ImportStatus.MAPPING,
        data_offset=info.data_offset,
        offset=info.data_offset,
        line=info.header_lines,
        rows_total=info.lines,
        created_by=_user(actor),
    )


def preview(job: ImportJob) -> list[list[str]]:
    return csvfile.inspect(Path(job.file), job.encoding).preview


@transaction.atomic
def do_start_import(
    actor: Actor,
    job: ImportJob,
    *,
    columns: dict[str, str] | None = None,
    mode: str | None = None,
    save_mapping_as: str = "",
    enqueue: bool = True,
) -> ImportJob:
    """Fixes the mapping and mode and queues the job (``enqueue=False``: the caller runs it)."""
    if job.status != ImportStatus.MAPPING:
        raise ValidationError(_("This import has already started."))
    columns = dict(columns if columns is not None else job.columns)
    errors = mapping_errors(job.header, columns)
    if errors:
        raise ValidationError({"columns": errors})
    if mode is not None:
        if mode not in ImportMode.values:
            raise ValidationError({"mode": _("Choose add, update, replace or remove.")})
        job.mode = mode
    job.columns = columns
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["columns", "mode", "status"])
    if save_mapping_as.strip():
        mapping, _created = ImportMapping.objects.update_or_create(
            name=save_mapping_as.strip(), defaults={"columns": columns}
        )
        record(actor, "import_mapping.save", mapping, {"columns": [None, columns]})
    if enqueue:
        from herald.contacts.tasks import run_import_task

        job_id = job.pk
        transaction.on_commit(lambda: run_import_task.enqueue(job_id))
    return job


# -- scheduled refresh -------------------------------------------------------------------------

REFRESH_FIELDS = ["url", "path", "recurrence", "columns", "active", "max_removed_percent"]


def _clean_refresh(refresh: ListRefresh) -> None:
    from herald.contacts.refresh import RefreshError, allowed_path

    errors: dict[str, list[str]] = {}
    refresh.url, refresh.path = refresh.url.strip(), refresh.path.strip()
    if bool(refresh.url) == bool(refresh.path):
        errors["url"] = [_("Give an HTTPS address or a file on the server (one of them).")]
    elif refresh.url:
        parts = urlsplit(refresh.url)
        if parts.scheme != "https" or not parts.hostname:
            errors["url"] = [_("An https:// address, e.g. https://crm.example.com/export.csv")]
    else:
        try:
            allowed_path(refresh.path)
        except RefreshError as exc:
            errors["path"] = [str(exc)]
    try:
        windows.recurrence_from_json(refresh.recurrence)
    except ValueError as exc:
        errors["recurrence"] = [str(exc)]
    if not 1 <= refresh.max_removed_percent <= 100:
        errors["max_removed_percent"] = [_("A percentage from 1 to 100 (100: never refused).")]
    if refresh.columns:
        problems = mapping_errors(list(refresh.columns), refresh.columns)
        if problems:
            errors["columns"] = problems
    if errors:
        raise ValidationError(errors)


def recurrence_from_text(text: str) -> dict[str, Any]:
    """The JSON of "every Monday 06:00"; raises ValidationError saying what to fix."""
    try:
        return windows.recurrence_to_json(windows.parse_recurrence(text))
    except ValueError as exc:
        raise ValidationError({"recurrence": [str(exc)]}) from None


def refresh_state(refresh: ListRefresh) -> dict[str, Any]:
    state = snapshot(refresh, REFRESH_FIELDS)
    state["recurrence"] = windows.format_recurrence(
        windows.recurrence_from_json(refresh.recurrence)
    )
    return state


@transaction.atomic
def do_set_refresh(actor: Actor, contact_list: ContactList, **fields: Any) -> ListRefresh:
    """Creates or changes the list's scheduled refresh: ``url`` (HTTPS) or ``path`` (under
    ``REFRESH_DIR``), ``recurrence`` (JSON, see ``recurrence_from_text``), ``columns`` (a
    mapping; empty: guessed from each file's header), ``active``. Each run replaces the list's
    members with the file's people."""
    from herald.contacts.refresh import next_time

    unknown = set(fields) - set(REFRESH_FIELDS)
    if unknown:
        raise TypeError(f"cannot set {', '.join(sorted(unknown))} on a refresh")
    refresh = ListRefresh.objects.select_for_update().filter(contact_list=contact_list).first()
    before = refresh_state(refresh) if refresh else {}
    if refresh is None:
        if "recurrence" not in fields:
            raise ValidationError({"recurrence": [_("Say when, e.g. every Monday 06:00.")]})
        refresh = ListRefresh(contact_list=contact_list)
    for name, value in fields.items():
        setattr(refresh, name, value if value is not None else "")
    _clean_refresh(refresh)
    refresh.next_run_at = next_time(refresh, timezone.now()) if refresh.active else None
    refresh.save()
    changes = diff(before, refresh_state(refresh))
    if changes:
        record(actor, "contact_list.refresh", contact_list, changes)
    return refresh


@transaction.atomic
def do_remove_refresh(actor: Actor, refresh: ListRefresh) -> None:
    record(actor, "contact_list.refresh", refresh.contact_list, diff(refresh_state(refresh), {}))
    refresh.delete()


@transaction.atomic
def do_refresh_now(actor: Actor, refresh: ListRefresh) -> None:
    """Asks the worker to refresh the list at once (within seconds); the schedule goes on."""
    if not refresh.active:
        raise ValidationError({"active": [_("The refresh is off: turn it on to run it.")]})
    ListRefresh.objects.filter(pk=refresh.pk).update(next_run_at=timezone.now())
    record(actor, "contact_list.refresh_now", refresh.contact_list, {})

"""Contact lists, imports with their mapping and progress, contact search and pages, suppression."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts.access import current_user, role_required
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.contacts import actions, importing, queries, tasks
from herald.contacts.csvfile import ENCODINGS, FileRefused
from herald.contacts.erasure import do_erase_contact
from herald.contacts.export import export_response
from herald.contacts.models import (
    Address,
    AddressState,
    Channel,
    Contact,
    ContactList,
    ContactPerson,
    ImportJob,
    ImportMapping,
    ImportMode,
    ImportStatus,
    ListMember,
    ListRefresh,
    RefreshStatus,
    Suppression,
    SuppressionReason,
)
from herald.contacts.rows import TARGET_LABELS, TARGETS


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@role_required(Role.MANAGER)
def lists(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            created = actions.do_create_list(
                Actor.for_request(request),
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                channel=request.POST.get("channel", Channel.EMAIL),
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            return redirect("contacts:list", list_id=created.pk)
    rows = ContactList.objects.annotate(
        member_count=Count("members", distinct=True), last_import=Max("imports__finished_at")
    )
    return render(request, "contacts/lists.html", {"lists": rows, "channels": Channel.choices})


@role_required(Role.MANAGER)
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_object_or_404(ContactList, pk=list_id)
    if request.method == "POST":
        try:
            actions.do_change_list(
                Actor.for_request(request),
                contact_list,
                name=request.POST.get("name", contact_list.name),
                description=request.POST.get("description", contact_list.description),
            )
            messages.success(request, _("Saved."))
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("contacts:list", list_id=contact_list.pk)
    statuses = (
        ListMember.objects.filter(contact_list=contact_list)
        .values("status")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return render(
        request,
        "contacts/list_detail.html",
        {
            "list": contact_list,
            "member_count": contact_list.members.count(),
            "statuses": statuses,
            "imports": contact_list.imports.all()[:10],
            "members": contact_list.members.select_related("contact").order_by("-id")[:50],
            "encodings": ENCODINGS,
            "no_mx": Address.objects.filter(
                contact__memberships__contact_list=contact_list, state=AddressState.NO_MX
            ).count(),
            **_refresh_context(contact_list),
        },
    )


def _refresh_context(contact_list: ContactList) -> dict[str, Any]:
    refresh = ListRefresh.objects.filter(contact_list=contact_list).first()
    runs = list(contact_list.refresh_runs.select_related("job")[:10])
    return {
        "refresh": refresh,
        "refresh_when": actions.refresh_state(refresh)["recurrence"] if refresh else "",
        "refresh_runs": runs,
        "refresh_failed": runs[0] if runs and runs[0].status == RefreshStatus.FAILED else None,
        "refresh_dir": settings.REFRESH_DIR,
    }


def _percent(text: str) -> int:
    """A percentage typed on the page (0 when it is not a number: refused with the reason)."""
    return int(text) if text.strip().isdigit() and len(text.strip()) <= 3 else 0


@role_required(Role.MANAGER)
@require_POST
def refresh(request: HttpRequest, list_id: int) -> HttpResponse:
    """The list's scheduled refresh: set (source and time), run now, or remove."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    actor = Actor.for_request(request)
    existing = ListRefresh.objects.filter(contact_list=contact_list).first()
    what = request.POST.get("action", "save")
    try:
        if what == "remove" and existing is not None:
            actions.do_remove_refresh(actor, existing)
            messages.success(request, _("The list is no longer refreshed."))
        elif what == "now" and existing is not None:
            actions.do_refresh_now(actor, existing)
            messages.success(request, _("The refresh starts in a few seconds."))
        else:
            source = request.POST.get("source", "").strip()
            https = source.lower().startswith("https://")
            actions.do_set_refresh(
                actor,
                contact_list,
                url=source if https else "",
                path="" if https else source,
                recurrence=actions.recurrence_from_text(request.POST.get("when", "")),
                active=request.POST.get("active") == "1",
                max_removed_percent=_percent(request.POST.get("max_removed_percent", "")),
            )
            messages.success(request, _("Scheduled refresh saved."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("contacts:list", list_id=contact_list.pk)


@role_required(Role.MANAGER)
@require_POST
def check_mx(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_object_or_404(ContactList, pk=list_id)
    actions.do_check_mx(Actor.for_request(request), contact_list)
    messages.success(
        request,
        _(
            "The domain check runs in the background: addresses whose domain takes no mail "
            "will show it on their contact page."
        ),
    )
    return redirect("contacts:list", list_id=contact_list.pk)


@role_required(Role.MANAGER)
@require_POST
def upload(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_object_or_404(ContactList, pk=list_id)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, _("Choose a CSV file to upload."))
        return redirect("contacts:list", list_id=list_id)
    path = actions.store_upload(uploaded, uploaded.name or "upload.csv")
    try:
        job = actions.do_create_import(
            Actor.for_request(request),
            contact_list,
            path,
            original_name=uploaded.name or "",
            encoding=request.POST.get("encoding", ""),
        )
    except FileRefused as exc:
        path.unlink(missing_ok=True)
        messages.error(request, str(exc))
        return redirect("contacts:list", list_id=list_id)
    return redirect("contacts:import", job_id=job.pk)


@role_required(Role.MANAGER)
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("contact_list"), pk=job_id)
    if request.method == "POST" and job.status == ImportStatus.MAPPING:
        saved = request.POST.get("use_mapping")
        if saved:
            mapping = get_object_or_404(ImportMapping, pk=saved)
            job.columns = {c: mapping.columns.get(c, "ignore") for c in job.header}
            job.save(update_fields=["columns"])
            return redirect("contacts:import", job_id=job.pk)
        columns = {c: request.POST.get(f"col{i}", "ignore") for i, c in enumerate(job.header)}
        try:
            actions.do_start_import(
                Actor.for_request(request),
                job,
                columns=columns,
                mode=request.POST.get("mode", ImportMode.ADD),
                save_mapping_as=request.POST.get("save_as", ""),
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("contacts:import", job_id=job.pk)
    context: dict[str, Any] = {"job": job}
    if job.status == ImportStatus.MAPPING:
        preview = actions.preview(job)
        context.update(
            columns=[
                (
                    i,
                    name,
                    job.columns.get(name, "ignore"),
                    [r[i] if i < len(r) else "" for r in preview],
                )
                for i, name in enumerate(job.header)
            ],
            targets=[(t, TARGET_LABELS[t]) for t in TARGETS],
            modes=ImportMode.choices,
            mappings=ImportMapping.objects.order_by("name"),
        )
    else:
        context["rejections"] = job.rejections.all()[:100]
    return render(request, "contacts/import.html", context)


@role_required(Role.MANAGER)
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress fragment htmx polls every second while the import runs."""
    job = get_object_or_404(ImportJob, pk=job_id)
    return render(request, "contacts/_progress.html", {"job": job, **_rates(job)})


def _rates(job: ImportJob) -> dict[str, Any]:
    from django.utils import timezone

    if not job.started_at or not job.rows_done:
        return {"rate": 0, "eta": None}
    end = job.finished_at or timezone.now()
    seconds = max((end - job.started_at).total_seconds(), 0.001)
    rate = job.rows_done / seconds
    left = max(job.rows_total - job.rows_done, 0)
    return {
        "rate": round(rate),
        "eta": round(left / rate) if rate and job.status != "done" else None,
    }


@role_required(Role.MANAGER)
def import_report(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)

    def lines() -> Iterator[str]:
        buffer: list[str] = []

        class Sink:
            def write(self, value: str) -> None:
                buffer.append(value)

        importing.write_rejections_csv(Sink(), job)
        yield from buffer

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response  # type: ignore[return-value]  # streamed: the file may be large


@role_required(Role.MANAGER)
def export(request: HttpRequest, list_id: int) -> HttpResponse:
    return export_response(get_object_or_404(ContactList, pk=list_id))  # type: ignore[return-value]  # streamed


@role_required(Role.AGENT)
def contacts(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    indexing = queries.unindexed_field(query)
    if indexing:
        # This search scans; the worker builds the field's index so the next ones do not.
        tasks.index_field_task.enqueue(indexing)
    return render(
        request,
        "contacts/search.html",
        {
            "query": query,
            "indexing": indexing,
            "contacts": queries.search_contacts(query).prefetch_related("addresses"),
        },
    )


@role_required(Role.AGENT)
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True)
    addresses = list(contact.addresses.order_by("position"))
    suppressed = queries.suppressions_for(a.email for a in addresses)
    return render(
        request,
        "contacts/contact.html",
        {
            "contact": contact,
            "addresses": [(a, suppressed.get(a.email_key)) for a in addresses],
            "memberships": contact.memberships.select_related("contact_list"),
            "fields": sorted(contact.fields.items()),
            "persons": contact.persons.order_by("name", "id"),
            "calls": contact.dispositions.order_by("-called_at", "-id")[:50],
            "can_edit": current_user(request).has_role(Role.MANAGER),
        },
    )


def _shown(value: Any) -> str:
    """A custom field's value as the edit page shows it."""
    return "" if value is None else str(value)


def _edited_fields(contact: Contact, data: Any) -> dict[str, Any]:
    """The custom fields from the edit page: a value shown and sent back unchanged keeps its
    stored type (a number stays a number); an emptied one is removed; a new name is added."""
    fields: dict[str, Any] = {}
    for name, value in contact.fields.items():
        sent = data.get(f"field:{name}")
        if sent is None or sent == _shown(value):
            fields[name] = value
        elif sent.strip():
            fields[name] = sent.strip()
    new_name, new_value = data.get("new_field", "").strip(), data.get("new_value", "").strip()
    if new_name and new_value:
        fields[new_name] = new_value
    return fields


@role_required(Role.MANAGER)
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A contact's names, ids, addresses and custom fields; and erasing it."""
    contact = get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True)
    error = ""
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in actions.CONTACT_FIELDS}
        try:
            actions.do_change_contact(
                Actor.for_request(request),
                contact,
                emails=[request.POST.get(f"email{i}", "") for i in (1, 2, 3)],
                fields=_edited_fields(contact, request.POST),
                **values,
            )
        except ValidationError as exc:
            error = _errors(exc)
            contact.refresh_from_db()
        else:
            messages.success(request, _("Saved."))
            return redirect("contacts:contact", contact_id=contact.pk)
    emails = {a.position: a.email for a in contact.addresses.all()}
    return render(
        request,
        "contacts/contact_edit.html",
        {
            "contact": contact,
            "error": error,
            "emails": [(i, emails.get(i, "")) for i in (1, 2, 3)],
            "fields": [(name, _shown(value)) for name, value in sorted(contact.fields.items())],
        },
    )


@role_required(Role.MANAGER)
@require_POST
def contact_erase(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True)
    if request.POST.get("confirm") != "erase":
        messages.error(request, _("Tick the box to confirm: erasing cannot be undone."))
        return redirect("contacts:contact_edit", contact_id=contact.pk)
    erased = do_erase_contact(Actor.for_request(request), contact)
    messages.success(
        request,
        _(
            "The contact was erased. Its %(n)s address(es) stay suppressed, as hashes: it will "
            "not be written to again."
        )
        % {"n": erased.addresses},
    )
    return redirect("contacts:search")


@role_required(Role.MANAGER)
@require_POST
def person_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=contact_id)
    try:
        actions.do_add_person(
            Actor.for_request(request),
            contact,
            name=request.POST.get("name", ""),
            role=request.POST.get("role", ""),
            email=request.POST.get("email", ""),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("contacts:contact", contact_id=contact.pk)


@role_required(Role.MANAGER)
@require_POST
def person_change(request: HttpRequest, contact_id: int, person_id: int) -> HttpResponse:
    person = get_object_or_404(ContactPerson, pk=person_id, contact_id=contact_id)
    try:
        actions.do_change_person(
            Actor.for_request(request),
            person,
            name=request.POST.get("name", person.name),
            role=request.POST.get("role", person.role),
            email=request.POST.get("email", person.email),
        )
        messages.success(request, _("Saved."))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("contacts:contact", contact_id=contact_id)


@role_required(Role.MANAGER)
@require_POST
def person_remove(request: HttpRequest, contact_id: int, person_id: int) -> HttpResponse:
    person = get_object_or_404(ContactPerson, pk=person_id, contact_id=contact_id)
    actions.do_remove_person(Actor.for_request(request), person)
    return redirect("contacts:contact", contact_id=contact_id)


@role_required(Role.MANAGER)
def suppressions(request: HttpRequest) -> HttpResponse:
    actor = Actor.for_request(request)
    if request.method == "POST":
        try:
            uploaded = request.FILES.get("file")
            if uploaded is not None:
                text = uploaded.read().decode("utf-8-sig", "replace")
                result = actions.do_bulk_add_suppressions(
                    actor, text.splitlines(), reason=request.POST.get("reason", "manual")
                )
                messages.success(
                    request,
                    _("%(added)d added, %(already)d already there, %(bad)d not valid.")
                    % {
                        "added": result.added,
                        "already": result.already,
                        "bad": len(result.invalid),
                    },
                )
            else:
                actions.do_add_suppression(
                    actor,
                    request.POST.get("value", ""),
                    reason=request.POST.get("reason", "manual"),
                    note=request.POST.get("note", ""),
                )
                messages.success(request, _("Added."))
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("contacts:suppressions")
    query = request.GET.get("q", "").strip().lower()
    entries = Suppression.objects.all()
    if query:
        entries = entries.filter(queries.prefix("value", query.lstrip("@")))
    return render(
        request,
        "contacts/suppressions.html",
        {
            "entries": entries.order_by("value")[:200] if query else entries[:200],
            "query": query,
            "reasons": SuppressionReason.choices,
        },
    )


@role_required(Role.MANAGER)
@require_POST
def suppression_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(Suppression, pk=entry_id)
    actions.do_remove_suppression(Actor.for_request(request), entry)
    messages.success(request, _("%(value)s may be emailed again.") % {"value": entry})
    return redirect("contacts:suppressions")

"""API: contact lists, contacts (search, batch upsert), imports, suppression list.

Every operation calls the same actions as the pages (herald.contacts.actions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from herald.api import auth
from herald.api.schemas import Input, InUseOut
from herald.audit.actors import Actor
from herald.contacts import actions, queries
from herald.contacts.csvfile import FileRefused
from herald.contacts.erasure import do_erase_contact
from herald.contacts.export import export_response
from herald.contacts.models import (
    Address,
    Contact,
    ContactList,
    ContactPerson,
    ImportJob,
    ImportMode,
    ListMember,
    ListRefresh,
    Suppression,
)

router = Router(tags=["contacts"])


class ListIn(Input):
    name: str
    description: str = ""
    channel: str = "email"


class ListPatch(Input):
    name: str | None = None
    description: str | None = None


class ListOut(Schema):
    id: int
    name: str
    description: str
    channel: str
    members: int


class EmailIn(Input):
    email: str
    label: str = ""


class ContactIn(Input):
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    language: str | None = None
    timezone: str | None = None
    emails: list[str | EmailIn] = []
    fields: dict[str, str | int | float | bool | None] = {}


class ContactPatch(Input):
    """A contact's changes: only the fields given change; ``emails`` and ``fields`` replace the
    contact's addresses (up to 3, in order) and custom fields as a whole."""

    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    language: str | None = None
    timezone: str | None = None
    emails: list[str] | None = Field(None, max_length=3)
    fields: dict[str, str | int | float | bool | None] | None = None


class ErasedOut(Schema):
    contact_id: int
    addresses: int
    deliveries: int
    conversations: int


class UpsertIn(Input):
    contacts: list[ContactIn] = Field(max_length=1000)
    list_id: int | None = None


class UpsertOut(Schema):
    created: int
    updated: int
    errors: list[dict[str, Any]]


class PersonIn(Input):
    name: str
    role: str = ""
    email: str = ""


class PersonPatch(Input):
    name: str | None = None
    role: str | None = None
    email: str | None = None


class PersonOut(Schema):
    id: int
    contact_id: int
    name: str
    role: str
    email: str


class SuppressionIn(Input):
    value: str
    reason: str = "manual"
    note: str = ""


class SuppressionOut(Schema):
    id: int
    value: str
    is_domain: bool
    reason: str
    source: str
    created_at: Any


class ImportStart(Schema):
    columns: dict[str, str] | None = None
    mode: str = ImportMode.ADD


def _list_out(contact_list: ContactList) -> dict[str, Any]:
    return {
        "id": contact_list.pk,
        "name": contact_list.name,
        "description": contact_list.description,
        "channel": contact_list.channel,
        "members": contact_list.members.count(),
    }


def _contact_out(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "external_id": contact.external_id,
        "variables": contact.variables(),
        "addresses": [
            {
                "position": a.position,
                "email": a.email,
                "label": a.label,
                "state": a.state,
                "error": a.error,
            }
            for a in contact.addresses.order_by("position")
        ],
        "lists": list(contact.memberships.values_list("contact_list__name", flat=True)),
        "persons": [
            {"id": p.pk, "name": p.name, "role": p.role, "email": p.email}
            for p in contact.persons.order_by("name", "id")
        ],
    }


def _job_out(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "list_id": job.contact_list_id,
        "status": job.status,
        "mode": job.mode,
        "header": job.header,
        "columns": job.columns,
        "percent": job.percent,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        **job.summary(),
        "error": job.error,
    }


@router.get("/lists", auth=auth.MANAGER)
def get_lists(request: HttpRequest) -> list[dict[str, Any]]:
    return [_list_out(c) for c in ContactList.objects.all()]


@router.post("/lists", response={201: ListOut}, auth=auth.MANAGER)
def create_list(request: HttpRequest, payload: ListIn) -> Status[dict[str, Any]]:
    created = actions.do_create_list(Actor.for_request(request), **payload.dict())
    return Status(201, _list_out(created))


@router.delete("/lists/{list_id}", response={204: None, 409: InUseOut}, auth=auth.MANAGER)
def delete_list(request: HttpRequest, list_id: int) -> Status[None]:
    """Deletes the list and its memberships (not its contacts). Refused (409, with the reasons)
    while a campaign that has not finished sends to it, or an import into it runs."""
    actions.do_delete_list(Actor.for_request(request), get_object_or_404(ContactList, pk=list_id))
    return Status(204, None)


def _position(address: Address) -> int:
    return address.position


class MemberFilter(Schema):
    after: int = 0  # the last contact id of the previous page
    limit: int = 500


@router.get("/lists/{list_id}/members", response=list[dict], auth=auth.MANAGER)
def list_members(request: HttpRequest, list_id: int, filters: Query[MemberFilter]) -> list[dict]:
    """The list's contacts in contact id order, a page after ``after``: id, external id, names,
    addresses and the member's status in the list."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    rows = (
        ListMember.objects.filter(contact_list=contact_list, contact_id__gt=filters.after)
        .select_related("contact")
        .prefetch_related("contact__addresses")
        .order_by("contact_id")[: max(1, min(filters.limit, 1000))]
    )
    return [
        {
            "contact_id": m.contact_id,
            "external_id": m.contact.external_id,
            "first_name": m.contact.first_name,
            "last_name": m.contact.last_name,
            "emails": [a.email for a in sorted(m.contact.addresses.all(), key=_position)],
            "status": m.status,
            "added_at": m.added_at,
        }
        for m in rows
    ]


@router.get(
    "/lists/{list_id}/export",
    auth=auth.MANAGER,
    openapi_extra={
        "responses": {
            200: {
                "description": "The list as CSV: a header, then one line per member.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_list(request: HttpRequest, list_id: int) -> StreamingHttpResponse:
    """The whole list as CSV (streamed): each member's status in the list, names, addresses and
    custom fields, as the list page's "Export" gives it."""
    return export_response(get_object_or_404(ContactList, pk=list_id))


@router.patch("/lists/{list_id}", response=ListOut, auth=auth.MANAGER)
def change_list(request: HttpRequest, list_id: int, payload: ListPatch) -> dict[str, Any]:
    contact_list = get_object_or_404(ContactList, pk=list_id)
    actions.do_change_list(
        Actor.for_request(request), contact_list, **payload.dict(exclude_none=True)
    )
    return _list_out(contact_list)


@router.post("/lists/{list_id}/check-mx", response={202: dict}, auth=auth.MANAGER)
def check_mx(request: HttpRequest, list_id: int) -> Status:
    """Queues the MX check of the list's address domains; results land on the addresses."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    actions.do_check_mx(Actor.for_request(request), contact_list)
    return Status(202, {"queued": True, "list_id": contact_list.pk})


@router.post("/lists/{list_id}/imports", response={201: dict}, auth=auth.MANAGER)
def upload_import(
    request: HttpRequest,
    list_id: int,
    file: UploadedFile = File(...),  # noqa: B008
    encoding: str = Form(""),
) -> Status[dict[str, Any]]:
    """Uploads a CSV; the answer shows the detected header and mapping. Then POST .../start."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    path = actions.store_upload(file, file.name or "upload.csv")
    try:
        job = actions.do_create_import(
            Actor.for_request(request),
            contact_list,
            path,
            original_name=file.name or "",
            encoding=encoding,
        )
    except FileRefused as exc:
        path.unlink(missing_ok=True)
        raise HttpError(422, str(exc)) from None
    return Status(201, _job_out(job))


@router.post("/imports/{job_id}/start", auth=auth.MANAGER)
def start_import(request: HttpRequest, job_id: int, payload: ImportStart) -> dict[str, Any]:
    job = get_object_or_404(ImportJob, pk=job_id)
    actions.do_start_import(
        Actor.for_request(request), job, columns=payload.columns, mode=payload.mode
    )
    return _job_out(job)


@router.get("/imports/{job_id}", auth=auth.MANAGER)
def get_import(request: HttpRequest, job_id: int) -> dict[str, Any]:
    job = get_object_or_404(ImportJob, pk=job_id)
    out = _job_out(job)
    out["rejections"] = list(job.rejections.values("line", "reason", "detail", "raw")[:1000])
    return out


@router.get("/contacts", auth=auth.AGENT)
def search(request: HttpRequest, q: str = "") -> list[dict[str, Any]]:
    return [_contact_out(c) for c in queries.search_contacts(q)]


@router.get("/contacts/{int:contact_id}", auth=auth.AGENT)
def get_contact(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    return _contact_out(get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True))


@router.patch("/contacts/{int:contact_id}", auth=auth.MANAGER)
def change_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> dict[str, Any]:
    contact = get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True)
    changes = payload.model_dump(exclude_unset=True)
    actions.do_change_contact(Actor.for_request(request), contact, **changes)
    contact.refresh_from_db()
    return _contact_out(contact)


@router.delete("/contacts/{int:contact_id}", response=ErasedOut, auth=auth.MANAGER)
def erase_contact(request: HttpRequest, contact_id: int) -> Any:
    """Erases the contact (GDPR): its personal data goes everywhere, its addresses stay
    suppressed as hashes. See herald/contacts/erasure.py for what is kept."""
    contact = get_object_or_404(Contact, pk=contact_id, erased_at__isnull=True)
    return do_erase_contact(Actor.for_request(request), contact)


@router.post("/contacts/{contact_id}/persons", response={201: PersonOut}, auth=auth.MANAGER)
def add_person(request: HttpRequest, contact_id: int, payload: PersonIn) -> Status:
    contact = get_object_or_404(Contact, pk=contact_id)
    person = actions.do_add_person(Actor.for_request(request), contact, **payload.dict())
    return Status(201, person)


@router.patch("/persons/{person_id}", response=PersonOut, auth=auth.MANAGER)
def change_person(request: HttpRequest, person_id: int, payload: PersonPatch) -> Any:
    person = get_object_or_404(ContactPerson, pk=person_id)
    return actions.do_change_person(
        Actor.for_request(request), person, **payload.dict(exclude_none=True)
    )


@router.delete("/persons/{person_id}", response={204: None}, auth=auth.MANAGER)
def remove_person(request: HttpRequest, person_id: int) -> Status:
    actions.do_remove_person(
        Actor.for_request(request), get_object_or_404(ContactPerson, pk=person_id)
    )
    return Status(204, None)


@router.post("/contacts/batch", response=UpsertOut, auth=auth.MANAGER)
def upsert(request: HttpRequest, payload: UpsertIn) -> Any:
    """Creates or updates up to 1,000 contacts (matched on external id, else first address)."""
    contact_list = get_object_or_404(ContactList, pk=payload.list_id) if payload.list_id else None
    return actions.do_upsert_contacts(
        Actor.for_request(request), [c.model_dump() for c in payload.contacts], contact_list
    )


@router.get("/suppressions", response=list[SuppressionOut], auth=auth.MANAGER)
def get_suppressions(request: HttpRequest, q: str = "") -> Any:
    entries = Suppression.objects.all()
    if q.strip():
        entries = entries.filter(queries.prefix("value", q.strip().lower().lstrip("@")))
    return list(entries[:1000])


@router.post("/suppressions", response={201: SuppressionOut}, auth=auth.MANAGER)
def add_suppression(request: HttpRequest, payload: SuppressionIn) -> Any:
    return Status(201, actions.do_add_suppression(Actor.for_request(request), **payload.dict()))


@router.delete("/suppressions/{entry_id}", response={204: None}, auth=auth.MANAGER)
def remove_suppression(request: HttpRequest, entry_id: int) -> Status[None]:
    actions.do_remove_suppression(
        Actor.for_request(request), get_object_or_404(Suppression, pk=entry_id)
    )
    return Status(204, None)


class RefreshIn(Input):
    url: str = Field("", max_length=2000, description="an https:// address of the CSV file")
    path: str = Field("", max_length=500, description="or a file under HERALD_REFRESH_DIR")
    when: str = Field(max_length=200, description='e.g. "every Monday 06:00"')
    columns: dict[str, str] = Field(
        default_factory=dict, description="column -> target; empty: guessed from the header"
    )
    active: bool = True
    max_removed_percent: int = Field(
        50, ge=1, le=100, description="refuse a file that removes more of the members (100: never)"
    )


class RefreshOut(Schema):
    list_id: int
    url: str
    path: str
    when: str
    columns: dict[str, str]
    active: bool
    max_removed_percent: int
    next_run_at: datetime | None


class RefreshRunOut(Schema):
    id: int
    source: str
    status: str
    error: str
    started_at: datetime
    finished_at: datetime | None
    import_id: int | None
    imported: int | None
    updated: int | None
    removed: int | None
    rejected: int | None


def _refresh_out(refresh: ListRefresh) -> dict[str, Any]:
    return {
        "list_id": refresh.contact_list_id,
        "url": refresh.url,
        "path": refresh.path,
        "when": actions.refresh_state(refresh)["recurrence"],
        "columns": refresh.columns,
        "active": refresh.active,
        "max_removed_percent": refresh.max_removed_percent,
        "next_run_at": refresh.next_run_at,
    }


@router.get("/lists/{list_id}/refresh", response=RefreshOut, auth=auth.MANAGER)
def get_refresh(request: HttpRequest, list_id: int) -> dict[str, Any]:
    """The list's scheduled refresh (404 when it has none)."""
    return _refresh_out(get_object_or_404(ListRefresh, contact_list_id=list_id))


@router.put("/lists/{list_id}/refresh", response=RefreshOut, auth=auth.MANAGER)
def set_refresh(request: HttpRequest, list_id: int, payload: RefreshIn) -> dict[str, Any]:
    """Refreshes the list on a schedule from an HTTPS address or a server file, in replace
    mode: the file's people become the list's members. A failed run shows on the list and is
    sent as a `list.refresh_failed` webhook."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    refresh = actions.do_set_refresh(
        Actor.for_request(request),
        contact_list,
        url=payload.url,
        path=payload.path,
        recurrence=actions.recurrence_from_text(payload.when),
        columns=payload.columns,
        active=payload.active,
        max_removed_percent=payload.max_removed_percent,
    )
    return _refresh_out(refresh)


@router.delete("/lists/{list_id}/refresh", response={204: None}, auth=auth.MANAGER)
def remove_refresh(request: HttpRequest, list_id: int) -> Status[None]:
    refresh = get_object_or_404(ListRefresh, contact_list_id=list_id)
    actions.do_remove_refresh(Actor.for_request(request), refresh)
    return Status(204, None)


@router.post("/lists/{list_id}/refresh/run", response={202: RefreshOut}, auth=auth.MANAGER)
def run_refresh(request: HttpRequest, list_id: int) -> Status[dict[str, Any]]:
    """Refreshes the list now (a worker starts within seconds); see the runs for how it went."""
    refresh = get_object_or_404(ListRefresh, contact_list_id=list_id)
    actions.do_refresh_now(Actor.for_request(request), refresh)
    refresh.refresh_from_db()
    return Status(202, _refresh_out(refresh))


@router.get("/lists/{list_id}/refresh/runs", response=list[RefreshRunOut], auth=auth.MANAGER)
def refresh_runs(request: HttpRequest, list_id: int) -> list[dict[str, Any]]:
    """The list's last 100 refreshes, newest first, with their import's counts."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    return [
        {
            "id": r.pk,
            "source": r.source,
            "status": r.status,
            "error": r.error,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "import_id": r.job_id,
            "imported": r.job.imported if r.job else None,
            "updated": r.job.updated if r.job else None,
            "removed": r.job.removed if r.job else None,
            "rejected": r.job.rejected if r.job else None,
        }
        for r in contact_list.refresh_runs.select_related("job")[:100]
    ]

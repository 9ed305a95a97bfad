"""A contact list as CSV, for a spreadsheet or another system (the list page's "Export" and the
API's ``GET /lists/{id}/export``)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

from herald.contacts.models import ContactList, ListMember
from herald.core.spreadsheet import Lines, SafeWriter


def export_rows(contact_list: ContactList) -> Iterator[str]:
    """The list as CSV lines: a header (status, then every variable of a contact: names,
    addresses, custom fields), then one line per member in the order they joined. Cells that a
    spreadsheet would run as a formula are written as text."""
    out = SafeWriter(Lines())
    members = (
        ListMember.objects.filter(contact_list=contact_list)
        .select_related("contact")
        .prefetch_related("contact__addresses")
        .order_by("id")
    )
    names: list[str] | None = None
    for member in members.iterator(chunk_size=2000):
        variables = member.contact.variables()
        if names is None:
            names = list(variables)
            yield out.writerow(["status", *names])
        yield out.writerow([member.status, *[variables.get(n, "") for n in names]])


def export_response(contact_list: ContactList) -> StreamingHttpResponse:
    """The list's CSV as a download, streamed: the list may hold millions."""
    response = StreamingHttpResponse(
        export_rows(contact_list), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{contact_list.name}.csv"
    )
    return response

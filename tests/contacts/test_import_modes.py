"""Add, add-and-update, replace (the weekly refresh) and remove, as a manager uses them."""

from __future__ import annotations

import pytest

from herald.audit.models import AuditEvent
from herald.contacts.models import Contact, ListMember

pytestmark = pytest.mark.django_db


def _list(name: str = "Customers") -> dict[str, str]:
    return {
        m.contact.external_id: m.contact.first_name
        for m in ListMember.objects.filter(contact_list__name=name).select_related("contact")
    }


def test_add_puts_new_people_in_and_leaves_existing_contacts_unchanged(run_import):
    run_import("crm-week1.csv")
    job = run_import("crm-week2.csv", mode="add")
    assert (job.imported, job.updated) == (1, 2)
    assert _list() == {"C1": "Ann", "C2": "Bob", "C3": "Carl", "C4": "Dana"}


def test_update_matches_on_external_id_and_changes_the_contact(run_import):
    run_import("crm-week1.csv")
    job = run_import("crm-week2.csv", mode="update")
    assert (job.imported, job.updated, job.removed) == (1, 2, 0)
    ann = Contact.objects.get(external_id="C1")
    assert (ann.first_name, ann.fields["plan"]) == ("Annie", "platinum")
    assert Contact.objects.count() == 4


def test_update_without_external_id_matches_on_the_address(run_import):
    run_import("utf8.csv")
    job = run_import("utf8-bom-semicolon.csv", mode="update")
    assert (job.imported, job.updated) == (0, 3)
    assert Contact.objects.count() == 3


def test_replace_brings_new_people_in_and_takes_the_missing_ones_out(run_import):
    run_import("crm-week1.csv")
    job = run_import("crm-week2.csv", mode="replace")
    assert (job.imported, job.updated, job.removed) == (1, 2, 1)
    assert _list() == {"C1": "Annie", "C3": "Carl", "C4": "Dana"}
    assert Contact.objects.filter(external_id="C2").exists()  # out of the list, not deleted


def test_remove_takes_the_files_addresses_out_of_the_list(run_import):
    run_import("crm-week1.csv")
    job = run_import("remove.csv", mode="remove")
    assert job.removed == 1
    assert _list() == {"C1": "Ann", "C3": "Carl"}


def test_the_same_people_can_be_uploaded_again_as_another_list(run_import):
    run_import("crm-week1.csv", list_name="Email A")
    run_import("crm-week1.csv", list_name="Email B")
    assert Contact.objects.count() == 3
    assert ListMember.objects.count() == 6


def test_an_import_is_one_audit_event_not_one_per_row(run_import):
    run_import("crm-week1.csv")
    events = AuditEvent.objects.filter(action="contact_list.import")
    assert events.count() == 1
    assert events.get().changes["imported"] == [None, 3]

"""Contact persons (name, role, address) under a company contact: on the contact page, through
the API, and from an import with one person per row of the company."""

from __future__ import annotations

import pytest

from herald.audit.models import AuditEvent
from herald.contacts.models import Contact, ContactPerson

pytestmark = pytest.mark.django_db


def _persons(external_id: str) -> list[tuple[str, str, str]]:
    return list(
        ContactPerson.objects.filter(contact__external_id=external_id)
        .order_by("name")
        .values_list("name", "role", "email")
    )


def test_an_import_adds_one_person_per_row_of_the_company(run_import):
    job = run_import("companies-persons.csv")
    assert (job.imported, job.rejected) == (2, 1)
    # Acme's three rows: one contact, two people, Alice's role from her last row.
    assert Contact.objects.filter(external_id="K1").count() == 1
    assert _persons("K1") == [
        ("Alice Doe", "Head of purchasing", "alice@acme.example"),
        ("Bruno Roy", "CFO", "bruno@acme.example"),
    ]
    assert _persons("K2") == []
    rejection = job.rejections.get()
    assert (rejection.line, rejection.reason) == (5, "invalid_address")
    assert "not-an-address" in rejection.detail


def test_importing_the_same_file_again_adds_nobody(run_import):
    run_import("companies-persons.csv")
    run_import("companies-persons.csv", mode="update")
    assert ContactPerson.objects.count() == 2


def test_a_manager_adds_changes_and_removes_a_person_on_the_contact_page(client_for, mike):
    contact = Contact.objects.create(company="Acme", external_id="K1")
    client = client_for(mike)
    url = f"/contacts/{contact.pk}/"
    assert "Add a contact person" in client.get(url).content.decode()
    client.post(
        f"{url}persons/", {"name": "Alice Doe", "role": "Buyer", "email": " Alice@ACME.example "}
    )
    person = ContactPerson.objects.get()
    assert (person.name, person.role, person.email) == ("Alice Doe", "Buyer", "Alice@acme.example")
    client.post(f"{url}persons/{person.pk}/", {"name": "Alice Doe", "role": "CFO", "email": ""})
    person.refresh_from_db()
    assert (person.role, person.email) == ("CFO", "")
    page = client.post(f"{url}persons/", {"name": "Bad", "email": "no-at-sign"}, follow=True)
    assert "no-at-sign" in page.content.decode()
    assert ContactPerson.objects.count() == 1
    client.post(f"{url}persons/{person.pk}/remove/")
    assert not ContactPerson.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"contact_person.add", "contact_person.change", "contact_person.remove"} <= actions


def test_an_agent_sees_the_persons_but_cannot_change_them(client_for, alice):
    contact = Contact.objects.create(company="Acme")
    person = ContactPerson.objects.create(contact=contact, name="Bruno Roy", role="CFO")
    client = client_for(alice)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Bruno Roy" in page
    assert "Add a contact person" not in page
    response = client.post(f"/contacts/{contact.pk}/persons/{person.pk}/remove/")
    assert response.status_code == 403
    assert ContactPerson.objects.exists()


def test_the_api_adds_changes_lists_and_removes_persons(api_for, mike):
    contact = Contact.objects.create(company="Acme")
    api = api_for(mike)
    response = api.post(
        f"/api/v1/contacts/{contact.pk}/persons",
        {"name": "Alice Doe", "role": "Buyer", "email": "alice@acme.example"},
        content_type="application/json",
    )
    assert response.status_code == 201
    person_id = response.json()["id"]
    response = api.patch(
        f"/api/v1/persons/{person_id}", {"role": "CFO"}, content_type="application/json"
    )
    assert response.json()["role"] == "CFO"
    persons = api.get(f"/api/v1/contacts/{contact.pk}").json()["persons"]
    assert [(p["name"], p["role"]) for p in persons] == [("Alice Doe", "CFO")]
    bad = api.post(
        f"/api/v1/contacts/{contact.pk}/persons",
        {"name": "", "email": "x@acme.example"},
        content_type="application/json",
    )
    assert bad.status_code in {400, 422}
    assert api.delete(f"/api/v1/persons/{person_id}").status_code == 204
    assert not ContactPerson.objects.exists()

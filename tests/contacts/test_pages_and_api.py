"""The pages and the API over the same actions: lists, upload and mapping, search, suppression."""

from __future__ import annotations

import pytest

from herald.audit.models import AuditEvent
from herald.contacts.models import Contact, ImportJob, ListMember, Suppression, is_suppressed

from .conftest import DATA

pytestmark = pytest.mark.django_db


def test_a_manager_uploads_maps_and_starts_an_import_from_the_pages(
    client_for, mike, django_capture_on_commit_callbacks
):
    client = client_for(mike)
    response = client.post("/contacts/lists/", {"name": "Newsletter", "channel": "email"})
    assert response.status_code == 302
    list_url = response["Location"]
    with (DATA / "utf8.csv").open("rb") as f:
        response = client.post(f"{list_url}upload/", {"file": f})
    job = ImportJob.objects.get()
    assert response["Location"] == f"/contacts/imports/{job.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "ann@example.com" in page
    assert "Montréal" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            response["Location"],
            {
                "col0": "email1",
                "col1": "first_name",
                "col2": "last_name",
                "col3": "company",
                "col4": "field",
                "mode": "add",
                "save_as": "CRM export",
            },
        )
    job.refresh_from_db()
    assert job.status in {"queued", "running", "done"}
    assert AuditEvent.objects.filter(action="import_mapping.save").exists()


def test_a_file_that_is_not_csv_is_refused_with_a_message(client_for, mike):
    client = client_for(mike)
    list_url = client.post("/contacts/lists/", {"name": "L", "channel": "email"})["Location"]
    with (DATA / "empty.csv").open("rb") as f:
        response = client.post(f"{list_url}upload/", {"file": f}, follow=True)
    assert "The file is empty" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_search_finds_contacts_by_address_name_external_id_and_field(run_import, client_for, alice):
    run_import("crm-week1.csv")
    client = client_for(alice)
    for query, name in [
        ("bob@ex", "Bob"),
        ("carl", "Carl"),
        ("rossi", "Bob"),
        ("C3", "Carl"),
        ("plan=gold", "Ann"),
        ("ann martin", "Ann"),
    ]:
        page = client.get("/contacts/", {"q": query}).content.decode()
        assert name in page, query
    assert "Carl" not in client.get("/contacts/", {"q": "bob"}).content.decode()


def test_searching_an_unindexed_field_has_the_worker_build_its_index(run_import, client_for, alice):
    from django_tasks_db.models import DBTaskResult

    from herald.contacts import queries
    from herald.contacts.tasks import index_field_task

    run_import("crm-week1.csv")
    assert "plan" not in queries.indexed_fields()
    page = client_for(alice).get("/contacts/", {"q": "plan=gold"}).content.decode()
    assert "Ann" in page  # answered now, by a scan
    assert 'data-testid="indexing"' in page
    queued = DBTaskResult.objects.get(task_path__endswith="index_field_task")
    assert queued.args_kwargs["args"] == ["plan"]
    assert index_field_task.call("plan") is True
    assert "plan" in queries.indexed_fields()
    again = client_for(alice).get("/contacts/", {"q": "plan=gold"}).content.decode()
    assert "Ann" in again
    assert 'data-testid="indexing"' not in again
    # Names that cannot be an index's name are searched but never turned into DDL.
    assert queries.unindexed_field("plan; drop table x=1") is None


def test_the_contact_page_shows_addresses_fields_lists_and_suppression(
    run_import, client_for, alice, actor
):
    from herald.contacts import actions

    run_import("crm-week1.csv")
    actions.do_add_suppression(actor, "ann@example.com", reason="unsubscribed")
    ann = Contact.objects.get(external_id="C1")
    page = client_for(alice).get(f"/contacts/{ann.pk}/").content.decode()
    assert "ann@example.com" in page
    assert "gold" in page
    assert "Customers" in page
    assert "unsubscribed" in page


def test_removing_a_suppression_is_a_managers_audited_action(client_for, mike, alice, actor):
    from herald.contacts import actions

    entry = actions.do_add_suppression(actor, "@spam.example", reason="complaint")
    assert is_suppressed("Anyone@SPAM.example") == entry
    assert client_for(alice).post(f"/contacts/suppressions/{entry.pk}/remove/").status_code == 403
    client_for(mike).post(f"/contacts/suppressions/{entry.pk}/remove/")
    assert not Suppression.objects.exists()
    event = AuditEvent.objects.get(action="suppression.remove")
    assert event.changes["value"] == ["spam.example", None]


def test_suppressions_are_added_in_bulk_from_a_file(client_for, mike):
    client = client_for(mike)
    upload = b"email\nx@example.com\n@bad.example\nnot an address\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/contacts/suppressions/",
        {"file": SimpleUploadedFile("s.csv", upload), "reason": "manual"},
        follow=True,
    )
    assert "2 added" in response.content.decode()
    assert set(Suppression.objects.values_list("value", flat=True)) == {
        "x@example.com",
        "bad.example",
    }


def test_a_list_is_exported_with_statuses_and_variables(run_import, client_for, mike):
    job = run_import("crm-week1.csv")
    ListMember.objects.filter(contact__external_id="C2").update(status="mail sent")
    body = b"".join(
        client_for(mike).get(f"/contacts/lists/{job.contact_list_id}/export.csv").streaming_content
    ).decode()
    lines = body.splitlines()
    assert lines[0].startswith("status,")
    assert "plan" in lines[0]
    assert "email1" in lines[0]
    assert any(line.startswith("mail sent,") and "bob@example.com" in line for line in lines)


def test_the_api_upserts_a_batch_of_contacts_and_searches_them(api_for, mike, alice):
    api = api_for(mike)
    created = api.post(
        "/api/v1/lists", {"name": "API list"}, content_type="application/json"
    ).json()
    payload = {
        "list_id": created["id"],
        "contacts": [
            {
                "external_id": "X1",
                "first_name": "Xena",
                "emails": ["xena@example.com"],
                "fields": {"Plan Name": "gold"},
            },
            {"external_id": "X2", "first_name": "Yuri", "emails": ["not-valid"]},
        ],
    }
    result = api.post("/api/v1/contacts/batch", payload, content_type="application/json").json()
    assert (result["created"], result["updated"], len(result["errors"])) == (1, 0, 1)
    payload["contacts"][0]["first_name"] = "Xenia"
    result = api.post("/api/v1/contacts/batch", payload, content_type="application/json").json()
    assert result["updated"] == 1
    found = api_for(alice).get("/api/v1/contacts", {"q": "xena@"}).json()
    assert found[0]["variables"]["first_name"] == "Xenia"
    assert found[0]["variables"]["plan_name"] == "gold"
    assert found[0]["lists"] == ["API list"]
    too_many = {"contacts": [{"emails": ["a@example.com"]}] * 1001}
    assert (
        api.post("/api/v1/contacts/batch", too_many, content_type="application/json").status_code
        == 422
    )


def test_an_agent_cannot_change_lists_or_suppressions_through_the_api(api_for, alice):
    api = api_for(alice)
    assert (
        api.post("/api/v1/lists", {"name": "x"}, content_type="application/json").status_code == 403
    )
    assert (
        api.post(
            "/api/v1/suppressions", {"value": "a@b.com"}, content_type="application/json"
        ).status_code
        == 403
    )


def test_the_api_imports_a_file_and_reports_its_rejected_rows(
    api_for, mike, django_capture_on_commit_callbacks
):
    from herald.contacts import importing

    api = api_for(mike)
    list_id = api.post(
        "/api/v1/lists", {"name": "Imported"}, content_type="application/json"
    ).json()["id"]
    with (DATA / "rejects.csv").open("rb") as f:
        job = api.post(f"/api/v1/lists/{list_id}/imports", {"file": f}).json()
    assert job["header"][0] == "email"
    assert job["status"] == "mapping"
    api.post(f"/api/v1/imports/{job['id']}/start", {"mode": "add"}, content_type="application/json")
    importing.run_import(job["id"])
    done = api.get(f"/api/v1/imports/{job['id']}").json()
    assert done["status"] == "done"
    assert done["rejected"] == 4
    assert {r["line"] for r in done["rejections"]} == {3, 4, 5, 7}


def test_exports_write_formula_like_cells_as_text_and_any_list_name_as_a_file_name(
    run_import, client_for, mike, tmp_path
):
    import csv
    import io

    upload = tmp_path / "hostile.csv"
    upload.write_text(
        "email,first_name,city\n"
        'ann@example.com,"=HYPERLINK(""http://evil.example"")",+33 Paris\n'
        "=2+5,@SUM(A1),-2\n"
    )
    job = run_import(upload, list_name='Q4 "VIP"\r\nX-Injected: 1')
    client = client_for(mike)
    response = client.get(f"/contacts/lists/{job.contact_list_id}/export.csv")
    assert "X-Injected" not in response.headers
    assert "attachment" in response["Content-Disposition"]
    exported = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = exported[0], exported[1]
    assert row[header.index("first_name")] == '\'=HYPERLINK("http://evil.example")'
    assert row[header.index("city")] == "'+33 Paris"
    report = client.get(f"/contacts/imports/{job.pk}/rejected.csv")
    rejected = list(csv.reader(io.StringIO(b"".join(report).decode())))
    assert len(rejected) == 2
    assert rejected[1][3] == "'=2+5,@SUM(A1),-2"  # the raw line, as text
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in rejected[1])

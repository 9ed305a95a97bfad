"""Real files in every encoding and delimiter, with every rejection reason, imported for real."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from herald.audit.actors import Actor
from herald.contacts import actions
from herald.contacts.csvfile import FileRefused
from herald.contacts.models import Contact, ContactList, ImportRejection, ListMember

from .conftest import DATA

pytestmark = pytest.mark.django_db

EXPECTED_NAMES = {("Ann", "Lévesque"), ("Bob", "Stone"), ("Chloé", "Dœuf")}


def _members(list_name: str) -> set[tuple[str, str]]:
    return set(
        ListMember.objects.filter(contact_list__name=list_name).values_list(
            "contact__first_name", "contact__last_name"
        )
    )


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("utf8.csv", "utf-8", ","),
        ("utf8-bom-semicolon.csv", "utf-8-sig", ";"),
        ("utf16-tab.csv", "utf-16", "\t"),
        ("windows1252-pipe.csv", "cp1252", "|"),
    ],
)
def test_each_encoding_and_delimiter_is_detected_and_imported(
    run_import, name, encoding, delimiter
):
    job = run_import(name)
    assert job.delimiter == delimiter
    assert (job.encoding, job.imported, job.rejected) == (
        "utf-8" if encoding in {"utf-8-sig", "utf-16"} else encoding,
        3,
        0,
    )
    assert _members("Customers") == EXPECTED_NAMES
    ann = Contact.objects.get(first_name="Ann")
    assert ann.fields == {"city": "Montréal"}
    assert ann.company == "Acme"


def test_addresses_are_normalized_on_import(run_import):
    run_import("utf8.csv")
    emails = set(ListMember.objects.values_list("contact__addresses__email", flat=True))
    assert emails == {"ann@example.com", "Bob.Stone@example.org", "chloé@xn--bcher-kva.de"}


def test_quoted_fields_keep_their_line_breaks_and_quotes(run_import):
    job = run_import("multiline.csv")
    assert (job.imported, job.rejected) == (2, 0)
    ann = Contact.objects.get(first_name="Ann")
    assert ann.fields["notes"] == "first line\nsecond line, with comma"
    assert Contact.objects.get(first_name="Bob").fields["notes"] == 'He said "hi"'


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "empty"),
        ("not-a-csv.xlsx", "not a CSV"),
        ("no-address.csv", "No column holds email addresses"),
    ],
)
def test_a_file_that_cannot_be_a_contact_list_is_refused_up_front(mike, name, message):
    contact_list = actions.do_create_list(Actor.for_user(mike), name="L")
    with pytest.raises(FileRefused, match=message):
        actions.do_create_import(Actor.for_user(mike), contact_list, DATA / name)


def test_every_bad_row_is_reported_with_its_line_raw_text_and_reason(run_import, actor):
    actions.do_add_suppression(actor, "blocked@example.com", reason="unsubscribed")
    actions.do_add_suppression(actor, "@spam.example", reason="complaint")
    job = run_import("rejects.csv")
    # Untyped custom columns take any text: lines 8 and 9 are good rows here.
    assert (job.imported, job.rejected) == (4, 6)
    rejected = {r.line: (r.reason, r.raw) for r in ImportRejection.objects.filter(job=job)}
    assert {line: reason for line, (reason, _raw) in rejected.items()} == {
        3: "invalid_address",
        4: "missing",
        5: "duplicate",
        6: "suppressed",
        7: "too_long",
        10: "suppressed",
    }
    assert rejected[5][1] == "good@example.com,Dupe,Row,1,1990-01-01"
    good = Contact.objects.get(first_name="Good")
    assert good.fields == {"amount": "12.5", "birthday": "1990-05-17"}


def test_the_rejected_rows_report_is_a_csv_with_line_reason_and_raw_row(run_import, actor):
    actions.do_add_suppression(actor, "blocked@example.com")
    job = run_import("rejects.csv")
    with Path(job.report).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "detail", "raw"]
    by_line = {int(r[0]): r for r in rows[1:]}
    assert by_line[3][1] == "invalid address"
    assert by_line[3][3] == "not-an-address,Bad,Address,1,1990-01-01"
    assert by_line[6][1] == "suppressed"
    assert len(rows) - 1 == job.rejected


def test_typed_custom_columns_reject_bad_numbers_and_dates(run_import, actor):
    job = run_import(
        "rejects.csv",
        columns={
            "email": "email1",
            "first_name": "first_name",
            "last_name": "last_name",
            "amount": "field:number",
            "birthday": "field:date",
        },
    )
    reasons = dict(ImportRejection.objects.filter(job=job).values_list("line", "reason"))
    assert reasons[8] == "bad_value"  # "twelve"
    assert reasons[9] == "bad_value"  # 31/02/2020
    assert Contact.objects.get(first_name="Good").fields == {
        "amount": 12.5,
        "birthday": "1990-05-17",
    }
    assert Contact.objects.get(first_name="Second").fields == {
        "amount": 7,
        "birthday": "2020-02-01",
    }
    assert ContactList.objects.get(name="Customers").members.count() == job.imported


def test_a_header_of_a_hundred_thousand_columns_is_refused_at_once(mike, tmp_path):
    """Once such a header held the database for 35 s and killed the worker's task thread."""
    wide = tmp_path / "wide.csv"
    header = "email," + ",".join(f"c{n}" for n in range(100_000))
    wide.write_text(f"{header}\nann@example.com{',x' * 100_000}\n")
    contact_list = actions.do_create_list(Actor.for_user(mike), name="L")
    with pytest.raises(FileRefused, match="100001 columns; Herald takes at most 500"):
        actions.do_create_import(Actor.for_user(mike), contact_list, wide)


def test_a_row_with_too_many_fields_is_rejected_with_its_line_and_the_rest_imports(
    run_import, tmp_path
):
    path = tmp_path / "ragged.csv"
    path.write_text(
        "email,first_name\nann@example.com,Ann\n"
        "bob@example.com,Bob" + ",x" * 600 + "\ncy@example.com,Cy\n"
    )
    job = run_import(path)
    assert (job.imported, job.rejected) == (2, 1)
    (rejection,) = ImportRejection.objects.filter(job=job)
    assert rejection.line == 3
    assert "more than 500 fields" in rejection.detail

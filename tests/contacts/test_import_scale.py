"""A 100,000-row file (generated here, not committed) goes in whole, on each database."""

from __future__ import annotations

import csv

import pytest

from herald.contacts.models import Address, Contact, ListMember

ROWS = 100_000

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_100000_row_file_is_imported_whole(run_import, tmp_path):
    path = tmp_path / "large.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter=";")
        out.writerow(["Email", "First name", "Last name", "Plan", "City", "Score", "Since", "Code"])
        for i in range(ROWS):
            out.writerow(
                [
                    f"client.{i}@d{i % 300}.example.com",
                    "Zoé",
                    f"N{i}",
                    "gold",
                    "Lyon",
                    str(i % 100),
                    "2024-03-01",
                    f"C{i}",
                ]
            )
    job = run_import(path, list_name="Large")
    assert (job.imported, job.rejected, job.rows_done) == (ROWS, 0, ROWS)
    assert ListMember.objects.filter(contact_list__name="Large").count() == ROWS
    assert Address.objects.filter(email="client.99999@d99.example.com").count() == 1
    sample = Contact.objects.get(last_name="N4242")
    assert sample.variables()["email"] == "client.4242@d42.example.com"
    assert sample.variables()["plan"] == "gold"
    assert job.percent == 100

"""Imports committed for real (not inside a test transaction), in batches of two rows: on
PostgreSQL, each batch is matched while the one before it is still being written by another
thread, so duplicates that straddle two batches must be caught without the database's help."""

from __future__ import annotations

import pytest
from django.db import connection

from herald.contacts import importing
from herald.contacts.models import Contact, ContactPerson, ImportRejection, ListMember

pytestmark = pytest.mark.django_db(transaction=True)


def test_duplicates_across_batches_are_rejected_and_persons_added_once(
    run_import, tmp_path, monkeypatch
):
    monkeypatch.setenv("HERALD_IMPORT_BATCH_ROWS", "2")
    pipelined = []
    run_pipelined = importing._run_pipelined
    monkeypatch.setattr(
        importing, "_run_pipelined", lambda *a: pipelined.append(1) or run_pipelined(*a)
    )
    path = tmp_path / "straddling.csv"
    path.write_text(
        "crm_id,email,first_name,person_name,person_email\n"
        "K1,a@example.com,Ann,Pia,pia@example.com\n"  # batch 1
        "K2,b@example.com,Bob,,\n"
        "K1,a@example.com,Ann,Pia,pia@example.com\n"  # batch 2: same person again
        ",b@example.com,Bob again,,\n"  # same address as K2: a duplicate
        "K3,c@example.com,Cem,,\n"  # batch 3
        "K1,a@example.com,Ann,Lou,lou@example.com\n"  # another person of K1
        "K3,c@example.com,Cem,,\n",  # batch 4: duplicate of the row just before
        encoding="utf-8",
    )
    job = run_import(path)
    assert (job.imported, job.rejected, job.rows_done) == (3, 2, 7)
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["K1", "K2", "K3"]
    assert ListMember.objects.count() == 3
    assert sorted(ImportRejection.objects.values_list("line", "reason")) == [
        (5, "duplicate"),
        (8, "duplicate"),
    ]
    assert sorted(ContactPerson.objects.values_list("name", flat=True)) == ["Lou", "Pia"]
    assert pipelined == ([1] if connection.vendor == "postgresql" else [])

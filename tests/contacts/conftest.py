"""Helpers for the contacts tests: the data files, and imports run the way the CLI runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.audit.actors import Actor
from herald.contacts import actions, importing
from herald.contacts.models import ContactList, ImportJob

DATA = Path(__file__).resolve().parents[1] / "data" / "contacts"


@pytest.fixture
def actor(mike) -> Actor:
    return Actor.for_user(mike)


@pytest.fixture
def run_import(actor):
    """Imports a file into a list (created if new) in the foreground; returns the finished job."""

    def do(
        path: Path | str, list_name: str = "Customers", mode: str = "add", **start: object
    ) -> ImportJob:
        path = DATA / path if isinstance(path, str) else path
        contact_list = ContactList.objects.filter(name=list_name).first() or actions.do_create_list(
            actor, name=list_name
        )
        stored = actions.store_upload(path, path.name)
        job = actions.do_create_import(actor, contact_list, stored, original_name=path.name)
        job = actions.do_start_import(actor, job, mode=mode, enqueue=False, **start)  # type: ignore[arg-type]
        done = importing.run_import(job.pk)
        assert done is not None
        return done

    return do

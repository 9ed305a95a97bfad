"""Scheduled list refreshes against a real HTTPS server on loopback (its certificate trusted
through ``HERALD_REFRESH_CA_FILE``): the file replaces the list's members, the import report is
kept, and every way it can fail (an error status, an untrusted certificate, a page that is not
a contact list, a file outside the allowed folder) leaves the members as they were, shows on
the list's page and goes out as a ``list.refresh_failed`` webhook."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from herald.audit.actors import Actor
from herald.campaigns.actions import account_zone
from herald.contacts import importing, refresh
from herald.contacts.actions import do_create_list, do_upsert_contacts
from herald.contacts.models import ContactList, ImportJob, ListMember, ListRefresh, RefreshRun
from herald.webhooks import actions as webhooks
from herald.webhooks import dispatch
from tests.dialer.smtpd import self_signed
from tests.webhooks.test_webhooks import Receiver

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
NEW_FILE = b"email,first_name\r\ncarol@example.org,Carol\r\nann@example.org,Ann\r\n"


class FileServer:
    """An HTTPS server on loopback answering every GET with ``status`` and ``body``."""

    def __init__(self, certificate: tuple[Path, Path, bytes]) -> None:
        self.status, self.body, self.requests = 200, NEW_FILE, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: Any) -> None:
                pass

        cert, key, _pem = certificate
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/export/customers.csv"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(certificate, settings, tmp_path) -> Iterator[FileServer]:
    settings.REFRESH_CA_FILE = str(certificate[0])
    settings.REFRESH_DIR = tmp_path / "refresh"
    settings.REFRESH_DIR.mkdir()
    running = FileServer(certificate)
    yield running
    running.httpd.shutdown()


@pytest.fixture
def customers(db: None) -> ContactList:
    contact_list = do_create_list(ACTOR, name="Customers")
    do_upsert_contacts(
        ACTOR,
        [{"emails": ["ann@example.org"]}, {"emails": ["bob@example.org"]}],
        contact_list=contact_list,
    )
    return contact_list


def members(contact_list: ContactList) -> list[str]:
    return sorted(
        a.email
        for m in ListMember.objects.filter(contact_list=contact_list).prefetch_related(
            "contact__addresses"
        )
        for a in m.contact.addresses.all()
    )


def worker_turn() -> None:
    """What the workers do: the refresh loop's step, the import task it queued, the step again."""
    refresh.step()
    for job in ImportJob.objects.filter(status="queued"):
        importing.run_import(job.pk)
    refresh.step()


def set_refresh(api: Any, contact_list: ContactList, **body: Any) -> Any:
    body.setdefault("when", "every day 06:00")
    return api.put(
        f"/api/v1/lists/{contact_list.pk}/refresh", body, content_type="application/json"
    )


def test_the_file_replaces_the_members_and_the_report_is_kept(
    server, customers, api_for, mike, client_for
):
    api = api_for(mike)
    answer = set_refresh(api, customers, url=server.url)
    assert answer.status_code == 200, answer.content
    assert answer.json()["when"] == "every day 06:00"
    local = dt.datetime.fromisoformat(answer.json()["next_run_at"]).astimezone(account_zone())
    assert (local.hour, local.minute) == (6, 0)
    assert local - timezone.now() <= dt.timedelta(days=1)

    worker_turn()
    assert server.requests == 0  # not due yet
    assert api.post(f"/api/v1/lists/{customers.pk}/refresh/run").status_code == 202
    worker_turn()
    assert server.requests == 1
    assert members(customers) == ["ann@example.org", "carol@example.org"]  # bob is out
    (run,) = api.get(f"/api/v1/lists/{customers.pk}/refresh/runs").json()
    assert run["status"] == "done"
    assert (run["imported"], run["updated"], run["removed"], run["rejected"]) == (1, 1, 1, 0)
    assert run["source"] == server.url
    page = client_for(mike).get(f"/contacts/lists/{customers.pk}/").content.decode()
    assert "1 new, 1 updated, 1 removed, 0 rejected" in page
    # The next occurrence is tomorrow's, not another run now.
    assert ListRefresh.objects.get().next_run_at > timezone.now()
    worker_turn()
    assert server.requests == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b"not found", "answered 404"),
        (200, b"<html><body>Please log in</body></html>", "No column holds email addresses"),
    ],
)
def test_a_failed_refresh_keeps_the_members_and_says_why(
    server, customers, api_for, mike, client_for, status, body, reason
):
    receiver = Receiver()
    try:
        webhooks.do_create_endpoint(ACTOR, receiver.url, event_types=["list.refresh_failed"])
        server.status, server.body = status, body
        set_refresh(api_for(mike), customers, url=server.url)
        ListRefresh.objects.update(next_run_at=timezone.now())
        worker_turn()
        assert members(customers) == ["ann@example.org", "bob@example.org"]
        run = RefreshRun.objects.get()
        assert run.status == "failed"
        assert reason in run.error
        page = client_for(mike).get(f"/contacts/lists/{customers.pk}/").content.decode()
        assert 'data-testid="refresh-failed"' in page
        assert reason in page
        dispatch.fan_out()
        dispatch.deliver_due(timezone.now())
        (notice,) = receiver.accepted()
        assert notice["type"] == "list.refresh_failed"
        assert notice["data"]["list_id"] == customers.pk
        assert reason in notice["data"]["error"]
    finally:
        receiver.server.shutdown()


def test_an_untrusted_certificate_is_refused(server, customers, api_for, mike, settings):
    settings.REFRESH_CA_FILE = ""  # the server's self-signed certificate is no longer trusted
    set_refresh(api_for(mike), customers, url=server.url)
    ListRefresh.objects.update(next_run_at=timezone.now())
    worker_turn()
    run = RefreshRun.objects.get()
    assert run.status == "failed"
    assert "CERTIFICATE_VERIFY_FAILED" in run.error
    assert members(customers) == ["ann@example.org", "bob@example.org"]


def test_a_file_on_the_server_only_under_the_refresh_folder(
    server, customers, api_for, mike, settings
):
    (settings.REFRESH_DIR / "nightly.csv").write_bytes(NEW_FILE)
    api = api_for(mike)
    refused = set_refresh(api, customers, path="../../etc/passwd")
    assert refused.status_code == 422
    assert "only files under" in str(refused.json()["detail"])
    refused = set_refresh(api, customers, url="http://crm.example.com/x.csv")
    assert refused.status_code == 422
    assert "https://" in str(refused.json()["detail"])
    refused = set_refresh(api, customers, path="nightly.csv", when="sometimes")
    assert refused.status_code == 422
    assert set_refresh(api, customers, path="nightly.csv").status_code == 200
    ListRefresh.objects.update(next_run_at=timezone.now())
    worker_turn()
    assert members(customers) == ["ann@example.org", "carol@example.org"]
    assert RefreshRun.objects.get().status == "done"


def test_each_occurrence_is_taken_by_one_worker(server, customers, api_for, mike):
    set_refresh(api_for(mike), customers, url=server.url)
    ListRefresh.objects.update(next_run_at=timezone.now())
    now = timezone.now()
    assert len(refresh.take_due(now)) == 1
    assert refresh.take_due(now) == []  # a second worker at the same moment finds nothing


def test_a_refresh_that_is_off_does_not_run_and_a_stalled_download_is_failed(
    server, customers, api_for, mike
):
    api = api_for(mike)
    set_refresh(api, customers, url=server.url, active=False)
    assert ListRefresh.objects.get().next_run_at is None
    refused = api.post(f"/api/v1/lists/{customers.pk}/refresh/run")
    assert refused.status_code == 422
    assert "turn it on" in str(refused.json()["detail"])

    # A worker stopped in the middle of a download leaves a run without an import.
    stalled = RefreshRun.objects.create(
        contact_list=customers,
        source=server.url,
        status="running",
        started_at=timezone.now() - dt.timedelta(hours=2),
    )
    refresh.step()
    stalled.refresh_from_db()
    assert stalled.status == "failed"
    assert "worker stopped" in stalled.error


def test_a_file_that_would_empty_most_of_the_list_is_refused(server, api_for, mike):
    big = do_create_list(ACTOR, name="Big")
    do_upsert_contacts(ACTOR, [{"emails": [f"p{n}@example.org"]} for n in range(40)], big)
    api = api_for(mike)
    set_refresh(api, big, url=server.url)  # NEW_FILE has 2 rows: 95 % would go
    ListRefresh.objects.update(next_run_at=timezone.now())
    worker_turn()
    run = RefreshRun.objects.get()
    assert run.status == "failed"
    assert "would remove about 95 %" in run.error
    assert ListMember.objects.filter(contact_list=big).count() == 40  # nothing was removed
    # The manager checked the file: it is right. Allowing it, the refresh goes through.
    answer = set_refresh(api, big, url=server.url, max_removed_percent=100)
    assert answer.json()["max_removed_percent"] == 100
    ListRefresh.objects.update(next_run_at=timezone.now())
    worker_turn()
    assert members(big) == ["ann@example.org", "carol@example.org"]

"""Inputs found by fuzzing the API and the pages that once answered 500 or stopped a command:
each now gets an answer that says what is wrong, and nothing else breaks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from herald.audit.actors import Actor
from herald.contacts import actions as contact_actions
from herald.contacts.csvfile import FileRefused
from herald.mailboxes.sandbox import store_message

HUGE = 2**70  # beyond SQLite's and PostgreSQL's 64-bit integers
REPO = Path(__file__).resolve().parents[1]


def deep_multipart(levels: int) -> bytes:
    head = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(levels)
    )
    body += b"Content-Type: text/plain\r\n\r\nhello\r\n"
    body += b"".join(b"--b%d--\r\n" % n for n in reversed(range(levels)))
    return head + body


@pytest.mark.django_db
def test_a_batch_with_a_number_for_an_address_is_a_422(api_for, mike):
    answer = api_for(mike).post(
        "/api/v1/contacts/batch",
        {"contacts": [{"first_name": "Ann", "emails": [123]}]},
        content_type="application/json",
    )
    assert answer.status_code == 422


@pytest.mark.django_db
def test_ids_beyond_64_bits_are_not_server_errors(api_for, client_for, mike):
    assert api_for(mike).get(f"/api/v1/contacts/{HUGE}").status_code in (404, 422)
    answer = api_for(mike).post(
        "/api/v1/contacts/batch",
        {"contacts": [], "list_id": HUGE},
        content_type="application/json",
    )
    assert answer.status_code in (404, 422)
    assert client_for(mike).get(f"/contacts/{HUGE}/").status_code in (400, 404)


@pytest.mark.django_db
def test_a_template_with_a_signature_that_does_not_exist_is_a_422(api_for, mike):
    answer = api_for(mike).post(
        "/api/v1/templates",
        {"name": "T", "subject": "Hi", "html": "<p>Hi</p>", "signature_id": 999_999},
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert "signature" in answer.content.decode()


@pytest.mark.django_db
def test_a_nul_character_in_a_search_is_not_a_server_error(api_for, client_for, mike, alice):
    assert client_for(alice).get("/contacts/", {"q": "ann\x00"}).status_code == 400
    assert api_for(alice).get("/api/v1/contacts", {"q": "ann\x00"}).status_code == 400
    answer = api_for(mike).post(
        "/api/v1/lists", {"name": "Bad\x00name"}, content_type="application/json"
    )
    assert answer.status_code in (201, 422)


@pytest.mark.django_db
def test_a_utf8_file_declared_utf16_is_refused_with_what_to_do(mike, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("email,first_name\nann@example.com,Ann\n", encoding="utf-8")
    contact_list = contact_actions.do_create_list(Actor.for_user(mike), name="L")
    with pytest.raises(FileRefused, match="not UTF-16 as chosen"):
        contact_actions.do_create_import(
            Actor.for_user(mike), contact_list, path, encoding="utf-16"
        )


@pytest.mark.django_db
def test_the_sandbox_viewer_shows_odd_messages(client_for, alice):
    klingon = store_message(
        "a@example.com",
        ["b@example.com"],
        b"From: a@example.com\r\nSubject: odd\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n",
    )
    deep = store_message("a@example.com", ["b@example.com"], deep_multipart(1000))
    client = client_for(alice)
    page = client.get(f"/mailboxes/sandbox/{klingon.pk}/")
    assert page.status_code == 200
    assert "qapla" in page.content.decode()
    page = client.get(f"/mailboxes/sandbox/{deep.pk}/")
    assert page.status_code == 200
    assert "nest more than 50 levels deep" in page.content.decode()


def test_classify_prints_an_error_line_for_a_hostile_message_and_goes_on(tmp_path):
    deep = tmp_path / "deep.eml"
    deep.write_bytes(deep_multipart(1000))
    fine = tmp_path / "fine.eml"
    fine.write_bytes(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    result = subprocess.run(
        [sys.executable, "-m", "herald.cli", "mail", "classify", str(deep), str(fine)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["kind"] for line in lines] == ["error", "new"]
    assert "nest more than 50 levels" in lines[0]["error"]
    assert result.returncode == 1  # one file failed, as documented

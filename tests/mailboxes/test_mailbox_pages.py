"""Mailbox pages and API as a manager uses them: secrets never shown back, test connection."""

from __future__ import annotations

import pytest

from herald.audit.actors import Actor
from herald.mailboxes.actions import do_save_mailbox
from herald.mailboxes.models import Mailbox
from tests.mailboxes.servers import SMTP_PASSWORD, SMTP_USER, trust

FORM = {
    "name": "Billing",
    "from_address": "billing@acme.example",
    "smtp_host": "smtp.acme.example",
    "smtp_port": "587",
    "smtp_security": "starttls",
    "smtp_username": "billing",
    "smtp_password": "page-secret-1",
    "imap_port": "993",
    "imap_security": "tls",
    "imap_folder": "INBOX",
    "max_connections": "4",
    "enabled": "on",
    "dkim_generate": "ed25519",
}


@pytest.mark.django_db
def test_a_manager_creates_a_mailbox_and_never_sees_its_password_again(mike, client_for):
    client = client_for(mike)
    response = client.post("/mailboxes/new/", FORM)
    mailbox = Mailbox.objects.get(name="Billing")
    assert response.status_code == 302
    assert response["Location"] == f"/mailboxes/{mailbox.pk}/"
    page = client.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert "page-secret-1" not in page
    assert "•••• (set)" in page
    assert "herald._domainkey.acme.example" in page
    assert "v=DKIM1; k=ed25519; p=" in page
    assert mailbox.dkim_private_key.splitlines()[1] not in page
    # Saving again with the password left empty keeps it.
    again = {**FORM, "smtp_password": "", "dkim_generate": "", "from_name": "Acme"}
    again.update(dkim_domain="acme.example", dkim_selector="herald")
    assert client.post(f"/mailboxes/{mailbox.pk}/", again).status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.from_name, mailbox.smtp_password) == ("Acme", "page-secret-1")


@pytest.mark.django_db
def test_a_pasted_key_that_is_not_a_key_is_shown_next_to_its_field(mike, client_for):
    response = client_for(mike).post(
        "/mailboxes/new/", {**FORM, "dkim_generate": "", "dkim_private_key": "nope"}
    )
    assert response.status_code == 200
    assert "neither PEM" in response.content.decode()
    assert not Mailbox.objects.filter(name="Billing").exists()


@pytest.mark.django_db
def test_the_connection_panel_shows_smtp_green_and_imap_not_configured(
    mike, client_for, smtp_server, monkeypatch
):
    trust(monkeypatch, smtp_server.cert_pem)
    mailbox = do_save_mailbox(
        Actor.system("test"),
        None,
        {
            **{k: FORM[k] for k in ("name", "from_address")},
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_username": SMTP_USER,
        },
        secrets={"smtp_password": SMTP_PASSWORD},
    )
    panel = (
        client_for(mike)
        .post(f"/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert 'data-protocol="SMTP" data-state="ok"' in panel
    assert 'data-protocol="IMAP" data-state="skipped"' in panel


@pytest.mark.django_db
def test_disabling_from_the_list_takes_the_mailbox_out_of_use(mike, client_for):
    mailbox = do_save_mailbox(
        Actor.system("test"),
        None,
        {"name": "Old", "from_address": "o@acme.example", "smtp_host": "h"},
    )
    client = client_for(mike)
    client.post(f"/mailboxes/{mailbox.pk}/enabled/", {"enabled": "0"})
    assert not Mailbox.objects.get(pk=mailbox.pk).enabled
    assert "disabled" in client.get("/mailboxes/").content.decode()


@pytest.mark.django_db
def test_the_list_says_which_secrets_to_enter_again_after_the_key_changed(
    mike, client_for, settings
):
    do_save_mailbox(
        Actor.system("test"),
        None,
        {"name": "Old", "from_address": "o@acme.example", "smtp_host": "h", "smtp_username": "u"},
        secrets={"smtp_password": "x"},
    )
    settings.ENCRYPTION_KEY = "new key"
    page = client_for(mike).get("/mailboxes/").content.decode()
    assert "Mailbox Old: the SMTP password cannot be decrypted" in page


@pytest.mark.django_db
def test_the_api_never_returns_secrets_and_says_which_are_set(mike, api_for):
    api = api_for(mike)
    created = api.post(
        "/api/v1/mailboxes",
        {
            "name": "Api",
            "from_address": "api@acme.example",
            "smtp_host": "h",
            "smtp_username": "u",
            "smtp_password": "api-secret",
            "dkim_generate": "rsa",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert "api-secret" not in created.content.decode()
    assert "PRIVATE KEY" not in created.content.decode()
    assert body["smtp_password_set"] is True
    assert body["dkim_private_key_set"] is True
    assert body["imap_password_set"] is False
    assert body["dkim_dns_record"].startswith("v=DKIM1; k=rsa; p=")
    changed = api.patch(
        f"/api/v1/mailboxes/{body['id']}",
        {"max_per_second": 14, "clear": ["smtp_password"]},
        content_type="application/json",
    )
    assert changed.json()["max_per_second"] == 14
    assert changed.json()["smtp_password_set"] is False
    invalid = api.patch(
        f"/api/v1/mailboxes/{body['id']}", {"bcc": "nope"}, content_type="application/json"
    )
    assert invalid.status_code == 422
    assert "nope is not an email address" in str(invalid.json()["detail"])
    disabled = api.post(
        f"/api/v1/mailboxes/{body['id']}/enabled",
        {"enabled": False},
        content_type="application/json",
    )
    assert disabled.json()["enabled"] is False


@pytest.mark.django_db
def test_the_api_connection_test_reports_each_protocol(mike, api_for, smtp_server, monkeypatch):
    trust(monkeypatch, smtp_server.cert_pem)
    mailbox = do_save_mailbox(
        Actor.system("test"),
        None,
        {
            "name": "T",
            "from_address": "t@acme.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_username": SMTP_USER,
        },
        secrets={"smtp_password": "wrong"},
    )
    result = api_for(mike).post(f"/api/v1/mailboxes/{mailbox.pk}/test").json()
    assert result["ok"] is False
    smtp, imap = result["checks"]
    assert (smtp["protocol"], smtp["state"]) == ("SMTP", "failed")
    assert "Authentication credentials invalid" in smtp["detail"]
    assert imap["state"] == "skipped"

"""Mailbox settings: secrets encrypted at rest and never shown, DKIM keys, validation, history."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from herald.audit.actors import Actor
from herald.audit.models import AuditEvent
from herald.dialer import dkim
from herald.mailboxes.actions import do_save_mailbox, do_set_mailbox_enabled
from herald.mailboxes.models import Mailbox
from herald.mailboxes.secrets import SecretUnreadableError

ACTOR = Actor.system("test")
FIELDS = {
    "name": "Billing",
    "from_address": "billing@acme.example",
    "smtp_host": "smtp.acme.example",
    "smtp_username": "billing",
}


def _raw_row(mailbox: Mailbox) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mailboxes_mailbox WHERE id = %s", [mailbox.pk])
        return repr(cursor.fetchone())


@pytest.mark.django_db
def test_passwords_and_keys_are_stored_encrypted_and_read_back_whole():
    key = dkim.generate_key("ed25519")
    mailbox = do_save_mailbox(
        ACTOR,
        None,
        {**FIELDS, "dkim_domain": "acme.example", "dkim_selector": "s1"},
        secrets={
            "smtp_password": "smtp-pw-123",
            "imap_password": "imap-pw-456",
            "dkim_private_key": key,
        },
    )
    row = _raw_row(mailbox)
    assert "smtp-pw-123" not in row
    assert "imap-pw-456" not in row
    assert key.splitlines()[1] not in row
    fresh = Mailbox.objects.get(pk=mailbox.pk)
    assert fresh.smtp_password == "smtp-pw-123"
    assert fresh.imap_password == "imap-pw-456"
    assert fresh.dkim_private_key.strip() == key.strip()


@pytest.mark.django_db
def test_an_empty_password_keeps_the_stored_one_and_clear_removes_it():
    mailbox = do_save_mailbox(ACTOR, None, FIELDS, secrets={"smtp_password": "first"})
    mailbox = do_save_mailbox(ACTOR, mailbox, {"from_name": "Acme"}, secrets={"smtp_password": ""})
    assert Mailbox.objects.get(pk=mailbox.pk).smtp_password == "first"
    do_save_mailbox(ACTOR, mailbox, {}, clear=["smtp_password"])
    assert not Mailbox.objects.get(pk=mailbox.pk).has_secret("smtp_password")


@pytest.mark.django_db
def test_the_history_says_a_secret_changed_but_never_its_value():
    mailbox = do_save_mailbox(ACTOR, None, FIELDS, secrets={"smtp_password": "first-secret"})
    do_save_mailbox(ACTOR, mailbox, {"smtp_port": 465}, secrets={"smtp_password": "second-secret"})
    event = AuditEvent.objects.filter(action="mailbox.change").get()
    assert event.changes["smtp_password"] == ["•••", "•••"]
    assert event.changes["smtp_port"] == [587, 465]
    history = json.dumps(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert "first-secret" not in history
    assert "second-secret" not in history
    assert mailbox.smtp_password_encrypted not in history


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "prefix"), [("ed25519", "v=DKIM1; k=ed25519; p="), ("rsa", "v=DKIM1; k=rsa; p=")]
)
def test_a_generated_dkim_key_gives_the_txt_record_to_publish(kind, prefix):
    mailbox = do_save_mailbox(ACTOR, None, FIELDS, dkim_generate=kind)
    assert mailbox.dkim_key_type == kind
    assert mailbox.dkim_dns_record.startswith(prefix)
    # Domain and selector default to the From address's domain and "herald".
    assert (mailbox.dkim_domain, mailbox.dkim_selector) == ("acme.example", "herald")
    assert dkim.dns_record(mailbox.dkim_private_key) == mailbox.dkim_dns_record


@pytest.mark.django_db
def test_a_pasted_key_that_is_not_a_key_is_refused_and_nothing_is_saved():
    with pytest.raises(ValidationError) as refused:
        do_save_mailbox(ACTOR, None, FIELDS, secrets={"dkim_private_key": "hello"})
    assert "neither PEM" in str(refused.value.message_dict["dkim_private_key"])
    assert not Mailbox.objects.filter(name="Billing").exists()


@pytest.mark.django_db
def test_a_bad_bcc_address_and_a_bad_selector_say_what_to_fix():
    with pytest.raises(ValidationError) as refused:
        do_save_mailbox(ACTOR, None, {**FIELDS, "bcc": "audit@acme.example, not-an-address"})
    assert "not-an-address" in str(refused.value.message_dict["bcc"])
    with pytest.raises(ValidationError) as refused:
        do_save_mailbox(
            ACTOR, None, {**FIELDS, "dkim_selector": "bad selector"}, dkim_generate="ed25519"
        )
    assert "selector" in str(refused.value.message_dict["dkim_selector"])


@pytest.mark.django_db
def test_after_the_key_changes_the_mailbox_says_which_secrets_to_enter_again(settings):
    mailbox = do_save_mailbox(
        ACTOR, None, FIELDS, secrets={"smtp_password": "pw"}, dkim_generate="rsa"
    )
    settings.ENCRYPTION_KEY = "a different key altogether"
    fresh = Mailbox.objects.get(pk=mailbox.pk)
    with pytest.raises(SecretUnreadableError, match="SMTP password of mailbox 'Billing'"):
        _ = fresh.smtp_password
    assert fresh.unreadable_secrets() == ["the SMTP password", "the DKIM private key"]
    # The TXT record (the public half) is still shown; entering the password again fixes it.
    assert fresh.dkim_dns_record.startswith("v=DKIM1; k=rsa")
    do_save_mailbox(ACTOR, fresh, {}, secrets={"smtp_password": "pw2"})
    assert Mailbox.objects.get(pk=mailbox.pk).smtp_password == "pw2"


@pytest.mark.django_db
def test_the_sandbox_keeps_its_own_smtp_server():
    from herald.mailboxes.actions import ensure_sandbox_mailbox

    sandbox = ensure_sandbox_mailbox()
    with pytest.raises(ValidationError) as refused:
        do_save_mailbox(ACTOR, sandbox, {"smtp_host": "smtp.elsewhere.example"})
    assert "smtp_host" in refused.value.message_dict
    renamed = do_save_mailbox(
        ACTOR, sandbox, {"from_name": "Test sends", "smtp_host": sandbox.smtp_host}
    )
    assert renamed.from_name == "Test sends"


@pytest.mark.django_db
def test_disabling_and_enabling_are_audited_once_each():
    mailbox = do_save_mailbox(ACTOR, None, FIELDS)
    do_set_mailbox_enabled(ACTOR, mailbox, False)
    do_set_mailbox_enabled(ACTOR, mailbox, False)
    do_set_mailbox_enabled(ACTOR, mailbox, True)
    assert Mailbox.objects.get(pk=mailbox.pk).enabled
    actions = list(
        AuditEvent.objects.filter(object_id=str(mailbox.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["mailbox.create", "mailbox.disable", "mailbox.enable"]

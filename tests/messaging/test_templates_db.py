"""Saving templates: versions, audit with differences, restore, attachments, pages, test sends."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from herald.audit.actors import Actor
from herald.audit.models import AuditEvent
from herald.mailboxes.actions import ensure_sandbox_mailbox
from herald.mailboxes.models import SandboxMessage
from herald.messaging import actions, models
from herald.messaging.compiling import TemplateInvalidError
from herald.messaging.models import Template
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import Links, render
from herald.messaging.tasks import send_test_message

pytestmark = pytest.mark.django_db

FIELDS = {
    "name": "Welcome",
    "subject": "Welcome ${first_name|}",
    "html": "<p>Hello ${first_name|Customer}</p>\n<p>Bye</p>",
}


def save(actor, template=None, **fields):
    return actions.do_save_template(actor, template, **{**FIELDS, **fields})


def test_every_save_keeps_a_version_and_the_audit_shows_the_difference(mike):
    actor = Actor.for_user(mike)
    first = save(actor)
    second = save(actor, first.template, html="<p>Hello ${first_name|Customer}</p>\n<p>Ciao</p>")
    assert [v.number for v in first.template.versions.order_by("number")] == [1, 2]
    event = AuditEvent.objects.filter(action="template.change").get()
    assert event.changes["version"] == [1, 2]
    diff = event.changes["html"][1]
    assert "-<p>Bye</p>" in diff
    assert "+<p>Ciao</p>" in diff
    assert second.template.current_version == second.version


def test_a_template_with_errors_is_not_saved_and_says_where(mike):
    with pytest.raises(TemplateInvalidError) as failure:
        save(Actor.for_user(mike), html="<p>${ first_name + }</p>")
    assert "html, line 1" in str(failure.value)
    assert not Template.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="template.").exists()


def test_a_manager_restores_an_old_version_as_an_audited_new_version(mike):
    actor = Actor.for_user(mike)
    first = save(actor, subject="Old subject")
    save(actor, first.template, subject="New subject")
    restored = actions.do_restore_version(actor, first.version)
    template = Template.objects.get()
    assert template.subject == "Old subject"
    assert restored.version.number == 3
    assert restored.version.restored_from == 1
    event = AuditEvent.objects.get(action="template.restore")
    assert event.changes["subject"] == ["New subject", "Old subject"]
    assert event.actor_user == mike


def test_a_saved_version_renders_from_what_was_stored(mike):
    saved = save(Actor.for_user(mike))
    message = render(compiled_version(saved.version), {}, {}, Links())
    assert "Hello Customer" in message.html
    assert message.subject == "Welcome"


def test_a_mailbox_signature_is_used_when_the_template_has_none(mike):
    actor = Actor.for_user(mike)
    signature = actions.do_save_signature(
        actor, None, name="Team", html="<p>-- ${company_phone}</p>"
    )
    saved = save(actor)
    compiled = compiled_version(saved.version, signature)
    message = render(compiled, {}, {"company_phone": "+39 06 1"}, Links())
    assert "-- +39 06 1" in message.html
    assert "-- +39 06 1" in message.text
    assert "-- " not in render(compiled_version(saved.version), {}, {}, Links()).html


def test_attachments_above_the_limit_are_refused_and_above_10_mb_warned(mike, settings):
    actor = Actor.for_user(mike)
    saved = save(actor)
    settings.TEMPLATE_ATTACHMENTS_MAX_MB = 12
    big = SimpleUploadedFile("big.bin", b"x" * (11 * 1024 * 1024), "application/octet-stream")
    actions.do_add_attachment(actor, saved.template, big)
    again = save(actor, saved.template, subject="Again")
    assert any("10 MB" in w for w in again.report.warnings)
    with pytest.raises(ValidationError, match="at most 12 MB"):
        actions.do_add_attachment(
            actor, saved.template, SimpleUploadedFile("more.bin", b"y" * 2 * 1024 * 1024)
        )
    compiled = compiled_version(again.version)
    assert [a.filename for a in compiled.attachments] == ["big.bin"]


@pytest.mark.django_db(transaction=True)  # the sandbox server stores from its own thread
def test_a_test_send_reaches_the_sandbox_mailbox(mike, sandbox_smtp):
    actor = Actor.for_user(mike)
    saved = save(actor)
    mailbox = ensure_sandbox_mailbox()
    with_commit = models.TestSend.objects.create(
        version=saved.version,
        mailbox=mailbox,
        to="tester@example.com",
        variables={"first_name": "Tess"},
    )
    assert send_test_message.call(with_commit.pk) == "sent"
    with_commit.refresh_from_db()
    assert with_commit.status == models.TestSendStatus.SENT
    received = SandboxMessage.objects.get()
    assert received.rcpt_tos == ["tester@example.com"]
    parsed = email.message_from_bytes(bytes(received.raw), policy=email.policy.default)
    assert parsed["Subject"] == "Welcome Tess"
    assert "Hello Tess" in parsed.get_body(("html",)).get_content()


@pytest.mark.django_db(transaction=True)
def test_a_test_send_that_cannot_render_says_why(mike, sandbox_smtp):
    saved = save(Actor.for_user(mike), html="<p>${plan}</p>")
    test = models.TestSend.objects.create(
        version=saved.version, mailbox=ensure_sandbox_mailbox(), to="t@example.com"
    )
    assert send_test_message.call(test.pk) == "failed"
    test.refresh_from_db()
    assert "${plan}" in test.error
    assert not SandboxMessage.objects.exists()


def test_a_test_send_to_an_unreachable_server_fails_as_temporary(mike, settings):
    import socket

    from herald.mailboxes.smtp import SmtpError, send_message

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        unreachable = ensure_sandbox_mailbox("127.0.0.1", probe.getsockname()[1])
    with pytest.raises(SmtpError) as failure:
        send_message(unreachable, b"Subject: x\r\n\r\nx\r\n", "a@b.example", ["c@d.example"])
    assert failure.value.permanent is False


def test_managers_edit_and_agents_cannot(client_for, alice, mike):
    assert client_for(alice).get("/templates/").status_code == 403
    response = client_for(mike).post(
        "/templates/new/", {**FIELDS, "language": "en", "direction": "ltr", "event_timezone": "UTC"}
    )
    assert response.status_code == 302
    template = Template.objects.get()
    page = client_for(mike).get(f"/templates/{template.pk}/preview/").content.decode()
    assert "Hello Ana" in page  # the sample variables
    assert "Content-Type: multipart/alternative" in page  # the raw MIME


def test_the_preview_of_a_contact_missing_a_value_says_it_would_be_skipped(client_for, mike):
    saved = save(Actor.for_user(mike), html="<p>${plan}</p>")
    page = client_for(mike).get(
        f"/templates/{saved.template.pk}/preview/", {"vars": "first_name = Ana"}
    )
    assert "This contact would be skipped" in page.content.decode()
    assert "${plan}" in page.content.decode()


def test_the_edit_form_shows_errors_with_line_and_column(client_for, mike):
    data = {
        **FIELDS,
        "html": "<p>ok</p>\n<p>${ a + }</p>",
        "language": "en",
        "direction": "ltr",
        "event_timezone": "UTC",
    }
    page = client_for(mike).post("/templates/new/", data).content.decode()
    assert "html, line 2, column 4" in page
    assert not Template.objects.exists()


def test_the_api_saves_versions_reports_errors_and_renders(api_for, mike, alice):
    api = api_for(mike)
    created = api.post(
        "/api/v1/templates",
        {"name": "API", "subject": "Hi ${first_name}", "html": "<p>Hi ${first_name}</p>"},
        content_type="application/json",
    )
    assert created.status_code == 201
    template_id = created.json()["id"]
    bad = api.patch(
        f"/api/v1/templates/{template_id}",
        {"html": "<p>${ x + }</p>"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["line"] == 1
    rendered = api.post(
        f"/api/v1/templates/{template_id}/render",
        {"variables": {"first_name": "<b>Ana</b>"}},
        content_type="application/json",
    ).json()
    assert rendered["subject"] == "Hi <b>Ana</b>"
    assert "Hi &lt;b&gt;Ana&lt;/b&gt;" in rendered["html"]
    missing = api.post(
        f"/api/v1/templates/{template_id}/render", {}, content_type="application/json"
    )
    assert missing.status_code == 422
    assert "${first_name}" in missing.json()["detail"]
    assert api_for(alice).get("/api/v1/templates").status_code == 403


def test_a_variable_is_unknown_only_when_no_contact_column_provides_it(mike):
    """``${city}`` is warned about until a list has a city column, then no more."""
    from herald.contacts.actions import do_create_list, do_upsert_contacts

    def unknown(html: str) -> list[str]:
        saved = actions.do_save_template(
            Actor.for_user(mike), None, name=html, subject="Hi", html=html
        )
        return saved.report.unknown_variables

    assert unknown("<p>${city}</p>") == ["city"]
    customers = do_create_list(Actor.for_user(mike), name="Customers")
    do_upsert_contacts(
        Actor.for_user(mike),
        [{"first_name": "Ana", "emails": ["ana@example.com"], "fields": {"City": "Rome"}}],
        customers,
    )
    assert unknown("<p>${city} ${first_name}</p>") == []
    assert unknown("<p>${town}</p>") == ["town"]

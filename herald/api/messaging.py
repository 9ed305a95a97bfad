"""API: templates (save as a new version, versions, restore), a rendered preview, test sends and
attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, File, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from herald.accounts.access import current_user
from herald.accounts.models import Account
from herald.api import auth
from herald.api.schemas import Error, Input, InUseOut
from herald.audit.actors import Actor
from herald.mailboxes.models import Mailbox
from herald.messaging import actions
from herald.messaging.compiling import TemplateInvalidError
from herald.messaging.models import (
    VERSIONED_FIELDS,
    Signature,
    Template,
    TemplateAttachment,
    TemplateVersion,
    TestSend,
    TestSendStatus,
)
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import RenderError, render
from herald.messaging.tasks import preview_links

router = Router(tags=["templates"])


class TemplateIn(Input):
    name: str | None = None
    campaign_id: int | None = None
    language: str | None = None
    direction: str | None = None
    subject: str | None = None
    include_company_name: bool | None = None
    html: str | None = None
    text: str | None = None
    signature_id: int | None = None
    saved_answer: bool | None = None
    event_enabled: bool | None = None
    event_title: str | None = None
    event_organizer: str | None = None
    event_location: str | None = None
    event_start: str | None = None
    event_end: str | None = None
    event_timezone: str | None = None


class RenderIn(Input):
    variables: dict[str, Any] = {}


def _out(template: Template) -> dict:
    version = template.current_version
    return {
        "id": template.pk,
        **{name: getattr(template, name) for name in VERSIONED_FIELDS},
        "version": version.number if version else None,
        "report": version.report if version else None,
    }


def _invalid(exc: TemplateInvalidError) -> HttpError:
    error = HttpError(422, "invalid template")
    error.detail = [  # type: ignore[attr-defined]
        {"part": p.part, "line": p.line, "column": p.column, "message": p.message}
        for p in exc.problems
    ]
    return error


def _save(request: HttpRequest, template: Template | None, payload: TemplateIn) -> dict:
    try:
        saved = actions.do_save_template(
            Actor.for_request(request), template, **payload.dict(exclude_none=True)
        )
    except TemplateInvalidError as exc:
        raise _invalid(exc) from None
    return _out(saved.template)


@router.get("/templates", auth=auth.MANAGER)
def list_templates(request: HttpRequest) -> list[dict]:
    return [_out(t) for t in Template.objects.select_related("current_version")]


@router.get("/templates/{template_id}", auth=auth.MANAGER, response=dict)
def get_template(request: HttpRequest, template_id: int) -> dict:
    """The template's current version: subject, HTML, text, settings, and its check report."""
    template = get_object_or_404(Template.objects.select_related("current_version"), pk=template_id)
    return _out(template)


@router.get("/signatures", auth=auth.MANAGER, response=list[dict])
def list_signatures(request: HttpRequest) -> list[dict]:
    return [
        {"id": s.pk, "name": s.name, "html": s.html} for s in Signature.objects.order_by("name")
    ]


@router.post("/templates", auth=auth.MANAGER, response={201: dict})
def create_template(request: HttpRequest, payload: TemplateIn) -> Status[dict]:
    return Status(201, _save(request, None, payload))


@router.delete("/templates/{template_id}", response={204: None, 409: InUseOut}, auth=auth.MANAGER)
def delete_template(request: HttpRequest, template_id: int) -> Status[None]:
    """Deletes the template. Refused (409, with the reasons) while a campaign uses it or a
    mailbox answers with it."""
    template = get_object_or_404(Template, pk=template_id)
    actions.do_delete_template(Actor.for_request(request), template)
    return Status(204, None)


@router.patch("/templates/{template_id}", auth=auth.MANAGER)
def change_template(request: HttpRequest, template_id: int, payload: TemplateIn) -> dict:
    """Saves the changes as a new version."""
    return _save(request, get_object_or_404(Template, pk=template_id), payload)


@router.get("/templates/{template_id}/versions", auth=auth.MANAGER)
def list_versions(request: HttpRequest, template_id: int) -> list[dict]:
    template = get_object_or_404(Template, pk=template_id)
    return [
        {
            "id": v.pk,
            "number": v.number,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "restored_from": v.restored_from,
            "source": v.source,
        }
        for v in template.versions.order_by("-number")
    ]


@router.post("/templates/versions/{version_id}/restore", auth=auth.MANAGER)
def restore_version(request: HttpRequest, version_id: int) -> dict:
    version = get_object_or_404(TemplateVersion, pk=version_id)
    try:
        saved = actions.do_restore_version(Actor.for_request(request), version)
    except TemplateInvalidError as exc:
        raise _invalid(exc) from None
    return _out(saved.template)


@router.post("/templates/{template_id}/render", auth=auth.MANAGER, response={200: dict, 409: Error})
def render_preview(request: HttpRequest, template_id: int, payload: RenderIn) -> dict:
    """The current version rendered with the given contact variables (preview links)."""
    template = get_object_or_404(Template.objects.select_related("current_version"), pk=template_id)
    if template.current_version is None:
        raise HttpError(409, "the template has no saved version")
    try:
        message = render(
            compiled_version(template.current_version),
            payload.variables,
            Account.load().variables(),
            preview_links(),
        )
    except RenderError as exc:
        raise HttpError(422, exc.reason) from None
    return {"subject": message.subject, "html": message.html, "text": message.text}


class TestSendIn(Input):
    to: str = Field(max_length=320)
    mailbox_id: int
    variables: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="sample contact variables (at most 50)"
    )


class TestSendOut(Schema):
    id: int
    to: str
    mailbox_id: int
    version: int
    status: TestSendStatus
    error: str
    sent_at: datetime | None


def _test_out(test: TestSend) -> dict[str, Any]:
    return {
        "id": test.pk,
        "to": test.to,
        "mailbox_id": test.mailbox_id,
        "version": test.version.number,
        "status": test.status,
        "error": test.error,
        "sent_at": test.sent_at,
    }


@router.post(
    "/templates/{template_id}/test-sends",
    response={202: TestSendOut, 409: Error},
    auth=auth.MANAGER,
)
def send_test(request: HttpRequest, template_id: int, payload: TestSendIn) -> Status[dict]:
    """Sends the current version to one address through a mailbox, rendered with the sample
    variables. Queued (202): the worker sends it; GET the test send to see how it went."""
    template = get_object_or_404(Template.objects.select_related("current_version"), pk=template_id)
    if template.current_version is None:
        raise HttpError(409, "the template has no saved version")
    if len(payload.variables) > 50:
        raise HttpError(422, "at most 50 variables")
    test = actions.do_request_test_send(
        Actor.for_request(request),
        template.current_version,
        get_object_or_404(Mailbox, pk=payload.mailbox_id),
        payload.to,
        {k: "" if v is None else str(v) for k, v in payload.variables.items()},
        requested_by=current_user(request),
    )
    return Status(202, _test_out(test))


@router.get("/test-sends/{test_send_id}", response=TestSendOut, auth=auth.MANAGER)
def get_test_send(request: HttpRequest, test_send_id: int) -> dict[str, Any]:
    """A test send: queued, sent, or failed with the reason."""
    return _test_out(get_object_or_404(TestSend.objects.select_related("version"), pk=test_send_id))


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int


def _attachment_out(a: TemplateAttachment) -> dict[str, Any]:
    return {"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size}


@router.get("/templates/{template_id}/attachments", response=list[AttachmentOut], auth=auth.MANAGER)
def list_attachments(request: HttpRequest, template_id: int) -> list[dict[str, Any]]:
    """The files every message of the template carries."""
    template = get_object_or_404(Template, pk=template_id)
    return [_attachment_out(a) for a in template.attachments.all()]


@router.post(
    "/templates/{template_id}/attachments", response={201: AttachmentOut}, auth=auth.MANAGER
)
def add_attachment(
    request: HttpRequest,
    template_id: int,
    file: UploadedFile = File(...),  # noqa: B008
) -> Status[dict[str, Any]]:
    """Adds a file (multipart field `file`) to every message of the template; refused (422)
    above the configured total size."""
    template = get_object_or_404(Template, pk=template_id)
    attachment = actions.do_add_attachment(Actor.for_request(request), template, file)
    return Status(201, _attachment_out(attachment))


@router.delete("/attachments/{attachment_id}", response={204: None}, auth=auth.MANAGER)
def remove_attachment(request: HttpRequest, attachment_id: int) -> Status[None]:
    attachment = get_object_or_404(TemplateAttachment, pk=attachment_id)
    actions.do_remove_attachment(Actor.for_request(request), attachment)
    return Status(204, None)

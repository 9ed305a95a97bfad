"""API: templates (save as a new version, versions, restore) and rendering a preview."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status
from ninja.errors import HttpError

from herald.accounts.models import Account
from herald.api import auth
from herald.api.schemas import Error, Input, InUseOut
from herald.audit.actors import Actor
from herald.messaging import actions
from herald.messaging.compiling import TemplateInvalidError
from herald.messaging.models import VERSIONED_FIELDS, Signature, Template, TemplateVersion
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

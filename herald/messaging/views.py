"""Template pages: list, edit (with the saving report), versions and restore, preview, test send,
signatures and attachments. Thin: each parses input, calls one action or query, presents."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts.access import current_user, role_required
from herald.accounts.models import Account, Role
from herald.audit.actors import Actor
from herald.core.forms import add_errors
from herald.mailboxes.models import Mailbox
from herald.messaging import actions, queries
from herald.messaging.compiling import TemplateInvalidError
from herald.messaging.forms import (
    AttachmentForm,
    SignatureForm,
    TemplateForm,
    TestSendForm,
    parse_variables,
)
from herald.messaging.mime import build_message, message_bytes
from herald.messaging.models import (
    Signature,
    Template,
    TemplateAttachment,
    TemplateVersion,
    TestSend,
)
from herald.messaging.rendering import ACCOUNT_VARIABLES, SYSTEM_VARIABLES, RenderError
from herald.messaging.rendering import render as render_message
from herald.messaging.tasks import preview_links

SAMPLE_VALUES = {
    "first_name": "Ana",
    "last_name": "Rossi",
    "company": "Rossi & Figli",
    "email": "ana.rossi@example.com",
    "language": "it",
    "timezone": "Europe/Rome",
    "external_id": "C-1001",
    "start_date": "2030-05-02",
}


def _report_messages(request: HttpRequest, report: dict[str, Any]) -> None:
    if report.get("removed"):
        messages.warning(
            request, _("Removed from the HTML for safety: %s") % "; ".join(report["removed"])
        )
    if report.get("unknown_variables"):
        messages.warning(
            request,
            _("Variables no contact field, account or system variable provides: %s")
            % ", ".join(f"${{{v}}}" for v in report["unknown_variables"]),
        )
    for warning in report.get("warnings", []):
        messages.warning(request, warning)


def _problems_to_form(form: TemplateForm, exc: TemplateInvalidError) -> None:
    for problem in exc.problems:
        field = problem.part.replace("event.", "event_")
        form.add_error(field if field in form.fields else None, str(problem))


@role_required(Role.MANAGER)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = Template.objects.select_related("current_version").order_by("name")
    return render(request, "messaging/template_list.html", {"templates": templates})


@role_required(Role.MANAGER)
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    template = get_object_or_404(Template, pk=template_id) if template_id else None
    form = TemplateForm(request.POST or None, instance=template or Template())
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        signature = fields.pop("signature")
        fields["signature_id"] = signature.pk if signature else None
        try:
            saved = actions.do_save_template(Actor.for_request(request), template, **fields)
        except TemplateInvalidError as exc:
            _problems_to_form(form, exc)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved as version %(n)d.") % {"n": saved.version.number})
            _report_messages(request, saved.version.report)
            return redirect("messaging:edit", saved.template.pk)
    attachments = template.attachments.all() if template else []
    return render(
        request,
        "messaging/template_edit.html",
        {
            "template": template,
            "form": form,
            "attachments": attachments,
            "attachment_form": AttachmentForm(),
            "attachments_mb": (
                (template.attachments.aggregate(s=Sum("size"))["s"] or 0) / actions.MB
                if template
                else 0
            ),
            "report": template.current_version.report
            if template and template.current_version
            else None,
            "variables_help": {
                "account": ACCOUNT_VARIABLES,
                "system": SYSTEM_VARIABLES,
            },
        },
    )


@role_required(Role.MANAGER)
@require_POST
def attachment_add(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(Template, pk=template_id)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            actions.do_add_attachment(
                Actor.for_request(request), template, form.cleaned_data["file"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Attached."))
    else:
        messages.error(request, _("Choose a file to attach."))
    return redirect("messaging:edit", template.pk)


@role_required(Role.MANAGER)
@require_POST
def attachment_remove(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = get_object_or_404(TemplateAttachment, pk=attachment_id)
    template_id = attachment.template_id
    actions.do_remove_attachment(Actor.for_request(request), attachment)
    messages.success(request, _("Attachment removed."))
    return redirect("messaging:edit", template_id)


@role_required(Role.MANAGER)
def versions(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(Template, pk=template_id)
    rows = list(template.versions.order_by("-number"))
    shown = []
    for newer, older in zip(rows, [*rows[1:], None], strict=True):
        before = older.source if older else {}
        changes = actions._changes(before, newer.source, older.number if older else 0, newer.number)
        shown.append((newer, changes))
    return render(request, "messaging/versions.html", {"template": template, "versions": shown})


@role_required(Role.MANAGER)
@require_POST
def restore(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(TemplateVersion, pk=version_id)
    try:
        saved = actions.do_restore_version(Actor.for_request(request), version)
    except TemplateInvalidError as exc:
        messages.error(request, str(exc))
        return redirect("messaging:versions", version.template_id)
    messages.success(
        request,
        _("Version %(old)d restored as version %(new)d.")
        % {"old": version.number, "new": saved.version.number},
    )
    return redirect("messaging:versions", version.template_id)


def _sample_variables(variables: frozenset[str]) -> dict[str, object]:
    names = sorted(set(variables) - set(SYSTEM_VARIABLES) - set(ACCOUNT_VARIABLES))
    sample: dict[str, object] = {name: SAMPLE_VALUES.get(name, f"sample {name}") for name in names}
    sample.setdefault("email", SAMPLE_VALUES["email"])
    return sample


@role_required(Role.MANAGER)
def preview(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(Template.objects.select_related("current_version"), pk=template_id)
    version = template.current_version
    if version is None:
        messages.error(request, _("Save the template before previewing it."))
        return redirect("messaging:edit", template.pk)
    mailboxes = list(Mailbox.objects.filter(enabled=True).select_related("signature"))
    mailbox = next(
        (m for m in mailboxes if str(m.pk) == request.GET.get("mailbox")),
        next((m for m in mailboxes if m.is_sandbox), mailboxes[0] if mailboxes else None),
    )
    compiled = queries.compiled_version(version, mailbox.signature if mailbox else None)
    lists = queries.contact_lists()
    list_id = request.GET.get("list", "")
    position = (
        int(request.GET.get("pos", "0") or 0)
        if request.GET.get("pos", "").lstrip("-").isdigit()
        else 0
    )
    contact = None
    error = None
    warnings: list[str] = []
    vars_text = request.GET.get("vars", "")
    if list_id.isdigit():
        contact = queries.list_contact(int(list_id), position)
        if contact is None:
            warnings.append(_("This list has no contacts."))
            variables: dict[str, object] = {}
        else:
            variables = contact.variables
            known = set(variables) | set(SYSTEM_VARIABLES) | set(ACCOUNT_VARIABLES)
            missing = sorted(compiled.variables - known)
            if missing:
                warnings.append(
                    _("This list has no column for: %s")
                    % ", ".join(f"${{{name}}}" for name in missing)
                )
    else:
        try:
            variables = parse_variables(vars_text) if vars_text else {}
        except ValidationError as exc:
            error = " ".join(exc.messages)
            variables = {}
        if not vars_text.strip():
            variables = _sample_variables(compiled.variables)
            vars_text = json.dumps(variables, indent=2, ensure_ascii=False)
    rendered = raw = None
    if error is None:
        try:
            rendered = render_message(
                compiled, variables, Account.load().variables(), preview_links()
            )
        except RenderError as exc:
            error = exc.reason
    if rendered is not None:
        to = str(variables.get("email") or SAMPLE_VALUES["email"])
        msg = build_message(
            rendered,
            from_address=mailbox.from_address if mailbox else "preview@herald.invalid",
            from_name=mailbox.from_name if mailbox else "",
            to=to,
        )
        raw = message_bytes(msg).decode("utf-8", "replace")
    send_form = TestSendForm(
        initial={
            "mailbox": mailbox,
            "to": current_user(request).email,
            "variables": json.dumps(variables, cls=DjangoJSONEncoder, ensure_ascii=False),
        }
    )
    base = reverse("messaging:preview", args=[template.pk])
    nav = None
    if contact is not None:
        nav = {
            "previous": f"{base}?list={list_id}&pos={contact.position - 1}",
            "next": f"{base}?list={list_id}&pos={contact.position + 1}",
        }
    return render(
        request,
        "messaging/preview.html",
        {
            "template": template,
            "version": version,
            "rendered": rendered,
            "raw": raw,
            "error": error,
            "warnings": warnings,
            "lists": lists,
            "list_id": list_id,
            "contact": contact,
            "nav": nav,
            "vars_text": vars_text,
            "send_form": send_form,
            "mailboxes": mailboxes,
            "mailbox": mailbox,
            "test_sends": TestSend.objects.filter(version__template=template).select_related(
                "mailbox"
            )[:5],
        },
    )


@role_required(Role.MANAGER)
@require_POST
def send_test(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(Template.objects.select_related("current_version"), pk=template_id)
    form = TestSendForm(request.POST)
    if template.current_version is None or not form.is_valid():
        messages.error(request, _("Choose a mailbox and a valid address for the test."))
        return redirect("messaging:preview", template.pk)
    try:
        variables = parse_variables(form.cleaned_data["variables"] or "")
        test = actions.do_request_test_send(
            Actor.for_request(request),
            template.current_version,
            form.cleaned_data["mailbox"],
            form.cleaned_data["to"],
            variables,
            requested_by=current_user(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Test message to %(to)s queued; it is sent through %(mailbox)s in a moment.")
            % {"to": test.to, "mailbox": test.mailbox},
        )
    return redirect("messaging:preview", template.pk)


@role_required(Role.MANAGER)
def signatures(request: HttpRequest, signature_id: int | None = None) -> HttpResponse:
    signature = get_object_or_404(Signature, pk=signature_id) if signature_id else None
    form = SignatureForm(request.POST or None, instance=signature)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_save_signature(
                Actor.for_request(request),
                signature,
                name=form.cleaned_data["name"],
                html=form.cleaned_data["html"],
            )
        except TemplateInvalidError as exc:
            form.add_error("html", str(exc))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Signature saved."))
            return redirect("messaging:signatures")
    return render(
        request,
        "messaging/signatures.html",
        {"form": form, "signature": signature, "signatures": Signature.objects.all()},
    )

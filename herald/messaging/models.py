"""Templates, their versions, attachments and signatures; test sends and how they went.

A Template row holds what a manager edits now; every save also writes a TemplateVersion, which
stores the source and what saving made of it (cleaned, CSS inlined, links numbered, text part
derived), so that sending only compiles the stored Jinja2 sources once per process.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    LTR = "ltr", _("Left to right")
    RTL = "rtl", _("Right to left (Arabic, Hebrew)")


class Signature(models.Model):
    """A reusable block appended to messages; chosen per template or per mailbox."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    html = models.TextField(_("HTML"), help_text=_("May use variables, e.g. ${company_phone}."))

    class Meta:
        verbose_name = _("signature")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Template(models.Model):
    name = models.CharField(_("name"), max_length=200)
    # Campaigns arrive with a later issue: the scope is kept as the campaign's id until then.
    campaign_id = models.BigIntegerField(
        _("campaign"), null=True, blank=True, help_text=_("Empty: available everywhere.")
    )
    language = models.CharField(_("language"), max_length=8, default="en")
    direction = models.CharField(
        _("text direction"), max_length=3, choices=Direction.choices, default=Direction.LTR
    )
    subject = models.CharField(_("subject"), max_length=500)
    include_company_name = models.BooleanField(
        _("include company name"),
        default=False,
        help_text=_("Prefixes the subject with the account's company name."),
    )
    html = models.TextField(_("HTML body"))
    text = models.TextField(
        _("plain-text body"), blank=True, help_text=_("Empty: generated from the HTML body.")
    )
    signature = models.ForeignKey(
        Signature,
        verbose_name=_("signature"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="templates",
        help_text=_("Empty: the sending mailbox's signature, if it has one."),
    )
    saved_answer = models.BooleanField(
        _("saved answer"),
        default=False,
        help_text=_("Agents can insert it in their answers in the inbox."),
    )
    # The optional calendar invitation; each text may use variables such as ${start_date}.
    event_enabled = models.BooleanField(_("attach a calendar invitation"), default=False)
    event_title = models.CharField(_("event title"), max_length=300, blank=True)
    event_organizer = models.CharField(
        _("organizer"), max_length=300, blank=True, help_text=_("Name <address@example.com>")
    )
    event_location = models.CharField(_("location"), max_length=300, blank=True)
    event_start = models.CharField(
        _("start"), max_length=100, blank=True, help_text=_("e.g. ${start_date} 14:30")
    )
    event_end = models.CharField(_("end"), max_length=100, blank=True)
    event_timezone = models.CharField(_("event time zone"), max_length=64, default="UTC")
    current_version = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("template")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The fields a version keeps, compared between versions and restored from them.
VERSIONED_FIELDS = (
    "name",
    "campaign_id",
    "language",
    "direction",
    "subject",
    "include_company_name",
    "html",
    "text",
    "signature_id",
    "saved_answer",
    "event_enabled",
    "event_title",
    "event_organizer",
    "event_location",
    "event_start",
    "event_end",
    "event_timezone",
)


class TemplateVersion(models.Model):
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200)  # the actor's label, kept as text
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    # What the manager wrote: {field: value} for VERSIONED_FIELDS.
    source = models.JSONField(default=dict)
    # What saving made of it: the Jinja2 sources sending compiles.
    compiled_subject = models.TextField()
    compiled_html = models.TextField()
    compiled_text = models.TextField()
    compiled_event = models.JSONField(null=True, blank=True)
    # The saving report: removed elements, warnings, unknown variables, links.
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


def attachment_path(instance: TemplateAttachment, filename: str) -> str:
    return f"templates/{instance.template_id}/{filename}"


class TemplateAttachment(models.Model):
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class TestSendStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class TestSend(models.Model):
    """A "send test" request: the worker sends it; the page shows how it went."""

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey("mailboxes.Mailbox", on_delete=models.CASCADE, related_name="+")
    to = models.EmailField()
    variables = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=TestSendStatus.choices, default="queued")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"test of {self.version} to {self.to}"

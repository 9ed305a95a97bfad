"""Mailbox: where Herald sends from (SMTP) and later reads replies (IMAP). SandboxMessage: what the
built-in sandbox SMTP server received, kept for people to look at instead of delivering it."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SmtpSecurity(models.TextChoices):
    NONE = "none", _("None")
    STARTTLS = "starttls", _("STARTTLS")
    TLS = "tls", _("SSL/TLS")


class Mailbox(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    from_address = models.EmailField(_("From address"))
    from_name = models.CharField(_("From name"), max_length=100, blank=True)
    smtp_host = models.CharField(_("SMTP host"), max_length=255)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_security = models.CharField(
        _("SMTP security"),
        max_length=16,
        choices=SmtpSecurity.choices,
        default=SmtpSecurity.STARTTLS,
    )
    smtp_username = models.CharField(_("SMTP username"), max_length=255, blank=True)
    # The sandbox points at the SMTP server `herald run` starts; its port follows the settings.
    is_sandbox = models.BooleanField(default=False, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Appended to messages whose template chooses no signature of its own.
    signature = models.ForeignKey(
        "messaging.Signature",
        verbose_name=_("signature"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mailboxes",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.name


class SandboxMessage(models.Model):
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    mail_from = models.CharField(max_length=320)
    rcpt_tos = models.JSONField(default=list)
    subject = models.CharField(max_length=500, blank=True)
    from_header = models.CharField(max_length=500, blank=True)
    to_header = models.CharField(max_length=1000, blank=True)
    message_id = models.CharField(max_length=500, blank=True, db_index=True)
    raw = models.BinaryField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.subject or "(no subject)"

    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(bytes(self.raw), policy=email.policy.default)

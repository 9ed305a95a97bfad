"""Mailbox: where Herald sends from (SMTP) and later reads replies (IMAP). SandboxMessage: what the
built-in sandbox SMTP server received, kept for people to look at instead of delivering it."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from herald.mailboxes import secrets


class SmtpSecurity(models.TextChoices):
    NONE = "none", _("No encryption")
    STARTTLS = "starttls", _("STARTTLS")
    TLS = "tls", _("SSL/TLS")


# The same three choices for IMAP: plain (143), STARTTLS (143), TLS from the first byte (993).
ImapSecurity = SmtpSecurity


class DkimKeyType(models.TextChoices):
    RSA = "rsa", _("RSA-2048")
    ED25519 = "ed25519", _("Ed25519")


class DeskMode(models.TextChoices):
    """How agents work a mailbox's conversations (herald.conversations)."""

    ASSIGNMENT = "assignment", _("Assignment: an agent takes a conversation before answering")
    OPEN = "open", _("Open: any member may answer, nobody takes a conversation")


class LoginWith(models.TextChoices):
    """How Herald logs in to the mailbox's SMTP and IMAP servers (herald.mailboxes.oauth)."""

    PASSWORD = "password", _("Username and password")
    MICROSOFT = "microsoft", _("Microsoft 365 (OAuth 2.0)")
    GOOGLE = "google", _("Google Workspace (OAuth 2.0)")
    OAUTH = "oauth", _("Other OAuth 2.0 provider")


# The secret fields: stored encrypted (herald.mailboxes.secrets), never shown back or returned.
SECRET_FIELDS = ("smtp_password", "imap_password", "dkim_private_key", "oauth_client_secret")
# What signing in leaves: encrypted too, set only by the sign-in and by refreshing.
TOKEN_FIELDS = ("oauth_refresh_token", "oauth_access_token")


class Mailbox(models.Model):
    """An entry point: the address campaigns are sent from (SMTP) and replies are read at (IMAP).

    Passwords and the DKIM private key are kept encrypted in the ``*_encrypted`` columns; read
    them through ``secret(name)``, which says what to re-enter when the key changed.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    from_address = models.EmailField(_("From address"))
    from_name = models.CharField(_("From name"), max_length=100, blank=True)
    reply_to = models.EmailField(_("Reply-To"), blank=True)
    return_path = models.EmailField(
        _("bounces to"),
        blank=True,
        help_text=_(
            "The envelope sender (Return-Path): bounces go there, never to the From address. "
            "Campaign messages carry one address each (bounces+r-<token>@…), so that every "
            "bounce finds its message even when the report names no recipient. The address "
            "must reach a mailbox Herald reads: this one or another. Empty: the From address."
        ),
    )
    bcc = models.CharField(
        _("default BCC"),
        max_length=1000,
        blank=True,
        help_text=_("Addresses that get a copy of every message, separated by commas."),
    )

    smtp_host = models.CharField(_("SMTP host"), max_length=255)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_security = models.CharField(
        _("SMTP security"),
        max_length=16,
        choices=SmtpSecurity.choices,
        default=SmtpSecurity.STARTTLS,
    )
    smtp_username = models.CharField(_("SMTP username"), max_length=255, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, editable=False)

    # Read replies, bounces and auto-replies from this mailbox's IMAP folder (the inbound side).
    receive_enabled = models.BooleanField(_("receive email"), default=False)
    imap_host = models.CharField(_("IMAP host"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"),
        max_length=16,
        choices=ImapSecurity.choices,
        default=ImapSecurity.TLS,
    )
    imap_username = models.CharField(_("IMAP username"), max_length=255, blank=True)
    imap_password_encrypted = models.TextField(blank=True, editable=False)
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    # Inbound (herald.inbound): how often to look when the server offers no IDLE, where to
    # move processed mail, and the automatic answers (none when empty).
    imap_poll_seconds = models.PositiveIntegerField(
        _("check for new mail every (seconds)"),
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(86400)],
        help_text=_("Used when the IMAP server does not offer IDLE (instant notification)."),
    )
    imap_move_to = models.CharField(
        _("move processed mail to folder"),
        max_length=255,
        blank=True,
        help_text=_("Empty: processed mail stays where it is."),
    )
    ack_template = models.ForeignKey(
        "messaging.Template",
        verbose_name=_("auto-acknowledgement template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Sent once to the sender of a new conversation. Empty: none."),
    )
    optout_template = models.ForeignKey(
        "messaging.Template",
        verbose_name=_("opt-out confirmation template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Sent to a contact who replied with an opt-out keyword. Empty: none."),
    )

    # The provider's limits, shared by every campaign sending through this mailbox (empty: none).
    max_per_second = models.PositiveIntegerField(
        _("messages per second"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_per_hour = models.PositiveIntegerField(
        _("messages per hour"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_per_day = models.PositiveIntegerField(
        _("messages per day"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_connections = models.PositiveIntegerField(
        _("max connections"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("SMTP connections open at once to this server."),
    )

    # OAuth 2.0 (herald.mailboxes.oauth): the admin's own app registration at the provider,
    # and what signing in gave. The access token is kept (encrypted) so that every worker, on
    # any machine, uses it until shortly before it expires, and one of them refreshes it.
    login_with = models.CharField(
        _("log in with"), max_length=10, choices=LoginWith.choices, default=LoginWith.PASSWORD
    )
    oauth_client_id = models.CharField(_("application (client) id"), max_length=255, blank=True)
    oauth_client_secret_encrypted = models.TextField(blank=True, editable=False)
    oauth_tenant = models.CharField(
        _("Microsoft tenant"),
        max_length=255,
        blank=True,
        help_text=_("Your directory (tenant) id or domain, e.g. contoso.onmicrosoft.com."),
    )
    oauth_issuer = models.URLField(
        _("issuer URL"),
        max_length=500,
        blank=True,
        help_text=_("Other providers: the address their discovery document is under."),
    )
    oauth_scopes = models.CharField(
        _("scopes"),
        max_length=1000,
        blank=True,
        help_text=_("Empty: what the provider needs for SMTP and IMAP."),
    )
    oauth_refresh_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_access_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    oauth_account = models.CharField(max_length=320, blank=True, editable=False)  # who signed in
    oauth_signed_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    oauth_error = models.CharField(max_length=1000, blank=True, editable=False)  # the last one

    dkim_domain = models.CharField(_("DKIM domain"), max_length=253, blank=True)
    dkim_selector = models.CharField(_("DKIM selector"), max_length=63, blank=True)
    dkim_private_key_encrypted = models.TextField(blank=True, editable=False)
    dkim_key_type = models.CharField(
        _("DKIM key type"), max_length=16, choices=DkimKeyType.choices, blank=True, editable=False
    )
    # The public half, as the TXT record to publish: kept in clear to show without decrypting.
    dkim_dns_record = models.TextField(_("DKIM DNS record"), blank=True, editable=False)

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
    # The agent desk (herald.conversations): how agents work this mailbox's conversations.
    desk_mode = models.CharField(
        _("inbox mode"), max_length=12, choices=DeskMode.choices, default=DeskMode.ASSIGNMENT
    )
    wrapup_required = models.BooleanField(
        _("wrap-up reason required"),
        default=False,
        help_text=_("Agents must choose a wrap-up reason to close a conversation."),
    )
    max_outbound_open = models.PositiveIntegerField(
        _("open outbound conversations per agent"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How many agent-started conversations an agent may have open at once in this "
            "mailbox (each agent's own setting wins). Empty: no limit."
        ),
    )
    # Routing (herald.routing): who gets which waiting conversation, and the service level.
    auto_assign = models.BooleanField(
        _("assign automatically"),
        default=False,
        help_text=_(
            "Assignment mode only: the oldest waiting conversation goes at once to the least "
            "loaded available agent with room; the others wait in the queue."
        ),
    )
    agent_capacity = models.PositiveIntegerField(
        _("open conversations per agent"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How many open customer conversations an agent holds at once in this mailbox (each "
            "agent's own setting wins); the rest wait. Empty: no limit."
        ),
    )
    offline_grace_seconds = models.PositiveIntegerField(
        _("offline grace (seconds)"),
        default=300,
        help_text=_(
            "An agent offline this long gives their unanswered conversations back to the queue."
        ),
    )
    rest_seconds = models.PositiveIntegerField(
        _("pause after closing (seconds)"),
        default=0,
        help_text=_("How long an agent is left free after closing one before the next comes."),
    )
    return_to_last_agent = models.BooleanField(
        _("returning customers go to their last agent"),
        default=False,
        help_text=_("When that agent is available and has room; otherwise the usual rules."),
    )
    service_level_percent = models.PositiveSmallIntegerField(
        _("service level target (%)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    service_level_seconds = models.PositiveIntegerField(
        _("first answer within (seconds)"),
        default=3600,
        validators=[MinValueValidator(1)],
        help_text=_(
            "With the target, e.g. 80 %: that share of conversations gets a first answer "
            "within 3600 s."
        ),
    )
    wait_warning_seconds = models.PositiveIntegerField(
        _("waiting: warning after (seconds)"), default=600
    )
    wait_critical_seconds = models.PositiveIntegerField(
        _("waiting: critical after (seconds)"), default=1800
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("mailbox")
        ordering = ["name"]
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for address in self.bcc_addresses():
            try:
                validate_email(address)
            except ValidationError:
                errors["bcc"] = gettext("%(address)s is not an email address.") % {
                    "address": address
                }
        if self.receive_enabled and not (
            self.imap_host and (self.imap_username or self.uses_oauth)
        ):
            errors["imap_host"] = gettext("To receive email, enter the IMAP host and username.")
        if self.uses_oauth and not self.oauth_client_id:
            errors["oauth_client_id"] = gettext(
                "Enter the application (client) id of your app registration."
            )
        if self.login_with == LoginWith.OAUTH and not self.oauth_issuer:
            errors["oauth_issuer"] = gettext("Enter the provider's issuer URL.")
        if self.dkim_private_key_encrypted and not (self.dkim_domain and self.dkim_selector):
            errors["dkim_domain"] = gettext("A DKIM key needs its domain and selector.")
        if self.auto_assign and self.desk_mode != DeskMode.ASSIGNMENT:
            errors["auto_assign"] = gettext(
                "Automatic assignment needs the assignment inbox mode: in an open mailbox "
                "nobody holds a conversation."
            )
        if self.wait_critical_seconds < self.wait_warning_seconds:
            errors["wait_critical_seconds"] = gettext(
                "The critical threshold comes after the warning one."
            )
        if errors:
            raise ValidationError(errors)

    def has_secret(self, name: str) -> bool:
        """Whether a secret (``smtp_password``, ``imap_password``, ``dkim_private_key``) is set."""
        return bool(getattr(self, f"{name}_encrypted"))

    def secret(self, name: str) -> str:
        """The plaintext of a secret; ``SecretUnreadableError`` names what to re-enter."""
        return secrets.decrypt(
            getattr(self, f"{name}_encrypted"),
            what=f"{SECRET_LABELS[name]} of mailbox {self.name!r}",
        )

    def set_secret(self, name: str, plaintext: str) -> None:
        """Stores a secret encrypted (empty clears it); the caller saves."""
        setattr(self, f"{name}_encrypted", secrets.encrypt(plaintext))

    def unreadable_secrets(self) -> list[str]:
        """The labels of the secrets that the current key cannot decrypt."""
        return [
            str(SECRET_LABELS[name])
            for name in SECRET_FIELDS
            if not secrets.readable(getattr(self, f"{name}_encrypted"))
        ]

    @property
    def smtp_password(self) -> str:
        return self.secret("smtp_password")

    @property
    def imap_password(self) -> str:
        return self.secret("imap_password")

    @property
    def dkim_private_key(self) -> str:
        return self.secret("dkim_private_key")

    @property
    def signs_dkim(self) -> bool:
        """Whether messages through this mailbox are DKIM-signed (domain, selector and key set)."""
        return bool(self.dkim_domain and self.dkim_selector and self.dkim_private_key_encrypted)

    @property
    def envelope_from(self) -> str:
        """The SMTP envelope sender (MAIL FROM) of messages other than campaign deliveries."""
        return self.return_path or self.from_address

    @property
    def uses_oauth(self) -> bool:
        return self.login_with != LoginWith.PASSWORD

    @property
    def smtp_login(self) -> str:
        """The user name SMTP logs in as (OAuth: the signed-in account by default)."""
        return self.smtp_username or (self.oauth_account if self.uses_oauth else "")

    @property
    def imap_login(self) -> str:
        return self.imap_username or (self.oauth_account if self.uses_oauth else "")

    def bcc_addresses(self) -> list[str]:
        return [a.strip() for a in self.bcc.split(",") if a.strip()]


SECRET_LABELS = {
    "smtp_password": _("the SMTP password"),
    "imap_password": _("the IMAP password"),
    "dkim_private_key": _("the DKIM private key"),
    "oauth_client_secret": _("the OAuth client secret"),
    "oauth_refresh_token": _("the OAuth sign-in (sign in again)"),
    "oauth_access_token": _("the OAuth access token"),
}


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

"""The mailbox form: settings as fields; passwords and the DKIM key apart, never shown back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from herald.mailboxes.actions import EDITABLE_FIELDS, SANDBOX_FIXED
from herald.mailboxes.models import SECRET_FIELDS, DkimKeyType, Mailbox

SET_PLACEHOLDER = "•••• (set)"
SECRET_NAMES = SECRET_FIELDS  # each has a field, and a "remove" box once it is set
# Left out (older clients, scripts posting the form), these keep their value (a new mailbox: the
# model's default) instead of failing as required.
DEFAULTED = (
    "imap_poll_seconds",
    "login_with",
    "desk_mode",
    "offline_grace_seconds",
    "rest_seconds",
    "service_level_percent",
    "service_level_seconds",
    "wait_warning_seconds",
    "wait_critical_seconds",
)


class MailboxForm(forms.ModelForm):
    smtp_password = forms.CharField(
        label=_("SMTP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Left empty, the stored password stays."),
    )
    clear_smtp_password = forms.BooleanField(label=_("Remove the SMTP password"), required=False)
    oauth_issuer = forms.URLField(
        label=_("issuer URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("Other providers: the address their discovery document is under."),
    )
    oauth_client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("The secret's value from the app registration. Left empty, it stays."),
    )
    clear_oauth_client_secret = forms.BooleanField(
        label=_("Remove the client secret"), required=False
    )
    imap_password = forms.CharField(
        label=_("IMAP password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Left empty, the stored password stays."),
    )
    clear_imap_password = forms.BooleanField(label=_("Remove the IMAP password"), required=False)
    dkim_generate = forms.ChoiceField(
        label=_("Generate a new DKIM key"),
        required=False,
        choices=[("", _("No: keep the key (or paste one below)")), *DkimKeyType.choices],
    )
    dkim_private_key = forms.CharField(
        label=_("Or paste a DKIM private key"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "code"}),
        help_text=_("PEM (RSA-2048 or Ed25519). Left empty, the stored key stays."),
    )
    clear_dkim_private_key = forms.BooleanField(label=_("Remove the DKIM key"), required=False)

    field_order = [
        *EDITABLE_FIELDS[: EDITABLE_FIELDS.index("smtp_username") + 1],
        "smtp_password",
        "clear_smtp_password",
        *EDITABLE_FIELDS[
            EDITABLE_FIELDS.index("login_with") : EDITABLE_FIELDS.index("oauth_client_id") + 1
        ],
        "oauth_client_secret",
        "clear_oauth_client_secret",
        *EDITABLE_FIELDS[
            EDITABLE_FIELDS.index("oauth_tenant") : EDITABLE_FIELDS.index("oauth_scopes") + 1
        ],
        *EDITABLE_FIELDS[
            EDITABLE_FIELDS.index("receive_enabled") : EDITABLE_FIELDS.index("imap_username") + 1
        ],
        "imap_password",
        "clear_imap_password",
        *EDITABLE_FIELDS[EDITABLE_FIELDS.index("imap_folder") :],
        "dkim_generate",
        "dkim_private_key",
        "clear_dkim_private_key",
    ]

    class Meta:
        model = Mailbox
        fields = list(EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mailbox = self.instance
        for name in SECRET_NAMES:
            if mailbox.pk and mailbox.has_secret(name):
                self.fields[name].widget.attrs["placeholder"] = SET_PLACEHOLDER
            else:
                del self.fields[f"clear_{name}"]
        for name in DEFAULTED:
            self.fields[name].required = False
        if mailbox.is_sandbox:
            for name in SANDBOX_FIXED:
                self.fields[name].disabled = True

    OAUTH = "microsoft google oauth"
    # (title, fields, folded): every field of the form, each once (tests check it).
    SECTIONS = (
        (
            _("Sender"),
            (
                "name",
                "from_address",
                "from_name",
                "reply_to",
                "return_path",
                "bcc",
                "signature",
                "enabled",
            ),
            False,
        ),
        (
            _("Sending (SMTP)"),
            (
                "smtp_host",
                "smtp_port",
                "smtp_security",
                "login_with",
                "smtp_username",
                "smtp_password",
                "clear_smtp_password",
                "oauth_client_id",
                "oauth_client_secret",
                "clear_oauth_client_secret",
                "oauth_tenant",
                "oauth_issuer",
                "oauth_scopes",
            ),
            False,
        ),
        (
            _("Receiving (IMAP)"),
            (
                "receive_enabled",
                "imap_host",
                "imap_port",
                "imap_security",
                "imap_username",
                "imap_password",
                "clear_imap_password",
                "imap_folder",
                "imap_poll_seconds",
                "imap_move_to",
            ),
            False,
        ),
        (_("Automatic answers"), ("ack_template", "optout_template"), True),
        (
            _("Provider limits"),
            ("max_per_second", "max_per_hour", "max_per_day", "max_connections"),
            True,
        ),
        (
            _("DKIM signing"),
            (
                "dkim_domain",
                "dkim_selector",
                "dkim_generate",
                "dkim_private_key",
                "clear_dkim_private_key",
            ),
            True,
        ),
        (_("Inbox"), ("desk_mode", "wrapup_required", "max_outbound_open"), True),
        (
            _("Routing and service level"),
            (
                "auto_assign",
                "agent_capacity",
                "offline_grace_seconds",
                "rest_seconds",
                "return_to_last_agent",
                "service_level_percent",
                "service_level_seconds",
                "wait_warning_seconds",
                "wait_critical_seconds",
            ),
            True,
        ),
    )
    # Fields that apply to one way of logging in only: shown while "log in with" says so.
    WHEN = {
        "smtp_password": "password",
        "clear_smtp_password": "password",
        "imap_password": "password",
        "clear_imap_password": "password",
        "oauth_client_id": OAUTH,
        "oauth_client_secret": OAUTH,
        "clear_oauth_client_secret": OAUTH,
        "oauth_tenant": "microsoft",
        "oauth_issuer": "oauth",
        "oauth_scopes": OAUTH,
    }

    def sections(self) -> list[tuple[str, list[tuple[forms.BoundField, str, str]], bool]]:
        """The form's fields in sections; a folded one opens when a field in it has an error."""
        out = []
        for title, names, folded in self.SECTIONS:
            fields = [self[name] for name in names if name in self.fields]
            rows = [
                (f, "login_with" if f.name in self.WHEN else "", self.WHEN.get(f.name, ""))
                for f in fields
            ]
            out.append((str(title), rows, folded and not any(f.errors for f in fields)))
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in DEFAULTED:
            if name in data and data[name] in (None, ""):
                data[name] = (
                    getattr(self.instance, name)
                    if self.instance.pk
                    else Mailbox._meta.get_field(name).default  # type: ignore[union-attr]
                )
        return data

    def action_arguments(self) -> dict[str, Any]:
        """What ``do_save_mailbox`` takes, from the cleaned data."""
        data = self.cleaned_data
        return {
            "fields": {name: data[name] for name in EDITABLE_FIELDS if name in data},
            "secrets": {name: data[name] for name in SECRET_NAMES if data.get(name)},
            "clear": [name for name in SECRET_NAMES if data.get(f"clear_{name}")],
            "dkim_generate": data.get("dkim_generate") or None,
        }

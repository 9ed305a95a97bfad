"""Changes to mailboxes. Each one transaction, each audited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor
from herald.core.deletion import refuse_if
from herald.dialer import dkim
from herald.mailboxes.models import SECRET_FIELDS, Mailbox, SmtpSecurity
from herald.mailboxes.secrets import SecretUnreadableError

SANDBOX_NAME = "Sandbox"
DEFAULT_DKIM_SELECTOR = "herald"

# What a person (form or API) may change; secrets go apart, never in these.
EDITABLE_FIELDS = (
    "name",
    "from_address",
    "from_name",
    "reply_to",
    "return_path",
    "bcc",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "login_with",
    "oauth_client_id",
    "oauth_tenant",
    "oauth_issuer",
    "oauth_scopes",
    "receive_enabled",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_folder",
    "imap_poll_seconds",
    "imap_move_to",
    "ack_template",
    "optout_template",
    "max_per_second",
    "max_per_hour",
    "max_per_day",
    "max_connections",
    "dkim_domain",
    "dkim_selector",
    "enabled",
    "signature",
    "desk_mode",
    "wrapup_required",
    "max_outbound_open",
    "auto_assign",
    "agent_capacity",
    "offline_grace_seconds",
    "rest_seconds",
    "return_to_last_agent",
    "service_level_percent",
    "service_level_seconds",
    "wait_warning_seconds",
    "wait_critical_seconds",
)
# Who issued the mailbox's OAuth tokens: changing any of these forgets the sign-in.
PROVIDER_FIELDS = ("login_with", "oauth_client_id", "oauth_tenant", "oauth_issuer")
# The sandbox's SMTP server is Herald's own: `herald run` keeps these in step with it.
SANDBOX_FIXED = ("smtp_host", "smtp_port", "smtp_security", "smtp_username")


def _audited(mailbox: Mailbox) -> dict[str, Any]:
    values = snapshot(mailbox, EDITABLE_FIELDS)
    # The encrypted tokens: a new secret always gives a new token, so the change shows (as •••).
    for name in SECRET_FIELDS:
        values[name] = getattr(mailbox, f"{name}_encrypted")
    values["dkim_key_type"] = mailbox.dkim_key_type
    return values


def _set_dkim_key(mailbox: Mailbox, pem: str) -> None:
    try:
        key = dkim.load_key(pem)
    except dkim.DkimError as exc:
        raise ValidationError({"dkim_private_key": str(exc)}) from None
    mailbox.set_secret("dkim_private_key", pem.strip() + "\n")
    mailbox.dkim_key_type = dkim.key_kind(key)
    mailbox.dkim_dns_record = dkim.dns_record(key)
    if not mailbox.dkim_domain:
        mailbox.dkim_domain = mailbox.from_address.rpartition("@")[2]
    if not mailbox.dkim_selector:
        mailbox.dkim_selector = DEFAULT_DKIM_SELECTOR


def _check_dkim(mailbox: Mailbox) -> None:
    if not mailbox.has_secret("dkim_private_key"):
        return
    try:
        key = mailbox.dkim_private_key
    except SecretUnreadableError:
        return  # kept as it is; the page asks for it again
    try:
        dkim.DkimSigner(mailbox.dkim_domain, mailbox.dkim_selector, key)
    except dkim.DkimError as exc:
        field = "dkim_selector" if "selector" in str(exc) else "dkim_domain"
        raise ValidationError({field: str(exc)}) from None


def _check_input(
    mailbox: Mailbox, fields: Mapping[str, Any], secrets: Mapping[str, str], clear: Iterable[str]
) -> None:
    unknown = (set(fields) - set(EDITABLE_FIELDS)) | (set(secrets) - set(SECRET_FIELDS))
    unknown |= set(clear) - set(SECRET_FIELDS)
    if unknown:
        raise ValidationError(f"unknown mailbox fields: {', '.join(sorted(unknown))}")
    if mailbox.is_sandbox:
        fixed = [f for f in SANDBOX_FIXED if f in fields and fields[f] != getattr(mailbox, f)]
        if fixed:
            raise ValidationError(
                dict.fromkeys(fixed, "The sandbox mailbox sends to Herald's own SMTP server.")
            )


def _apply_secrets(
    mailbox: Mailbox, secrets: Mapping[str, str], clear: Iterable[str], dkim_generate: str | None
) -> None:
    for name in clear:
        mailbox.set_secret(name, "")
        if name == "dkim_private_key":
            mailbox.dkim_key_type = ""
            mailbox.dkim_dns_record = ""
    for name in ("smtp_password", "imap_password", "oauth_client_secret"):
        if secrets.get(name):
            mailbox.set_secret(name, secrets[name])
    if dkim_generate:
        if secrets.get("dkim_private_key"):
            raise ValidationError(
                {"dkim_private_key": "Either generate a DKIM key or paste one, not both."}
            )
        try:
            pem = dkim.generate_key(dkim_generate)  # type: ignore[arg-type]  # checked there
        except dkim.DkimError as exc:
            raise ValidationError({"dkim_private_key": str(exc)}) from None
        _set_dkim_key(mailbox, pem)
    elif secrets.get("dkim_private_key"):
        _set_dkim_key(mailbox, secrets["dkim_private_key"])


@transaction.atomic
def do_save_mailbox(
    actor: Actor,
    mailbox: Mailbox | None,
    fields: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    clear: Iterable[str] = (),
    dkim_generate: str | None = None,
) -> Mailbox:
    """Creates (``mailbox=None``) or changes a mailbox.

    ``fields`` are among ``EDITABLE_FIELDS``; ``secrets`` sets ``smtp_password``,
    ``imap_password``, ``oauth_client_secret`` or ``dkim_private_key`` (a pasted PEM key), an
    empty value keeping the stored one; ``clear`` removes secrets; ``dkim_generate`` ("rsa" or
    "ed25519") makes a new DKIM key. Raises ``ValidationError`` saying which field to fix; the
    history records that a secret changed, never its value. Changing who issues the OAuth
    tokens (``PROVIDER_FIELDS``) forgets the sign-in.
    """
    creating = mailbox is None
    if mailbox is None:
        mailbox = Mailbox()
    else:
        mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    before = {} if creating else _audited(mailbox)
    secrets, clear = dict(secrets or {}), tuple(clear)
    _check_input(mailbox, fields, secrets, clear)
    provider = [getattr(mailbox, name) for name in PROVIDER_FIELDS]
    for name, value in fields.items():
        setattr(mailbox, name, value)
    if provider != [getattr(mailbox, name) for name in PROVIDER_FIELDS]:
        # Tokens belong to one app registration at one provider: sign in again.
        mailbox.oauth_refresh_token_encrypted = mailbox.oauth_access_token_encrypted = ""
        mailbox.oauth_expires_at = mailbox.oauth_signed_in_at = None
        mailbox.oauth_account = ""
    _apply_secrets(mailbox, secrets, clear, dkim_generate)
    mailbox.full_clean()
    _check_dkim(mailbox)
    mailbox.save()
    record(
        actor,
        "mailbox.create" if creating else "mailbox.change",
        mailbox,
        diff(before, _audited(mailbox), secret=SECRET_FIELDS),
    )
    from herald.routing.actions import request_routing  # routing sits above mailboxes

    request_routing(mailbox)  # more capacity, or auto-assignment turned on: the queue moves
    return mailbox


@transaction.atomic
def do_set_mailbox_enabled(actor: Actor, mailbox: Mailbox, enabled: bool) -> Mailbox:
    """Enables or disables a mailbox (a disabled one is offered to no new campaign or test)."""
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    if mailbox.enabled != enabled:
        mailbox.enabled = enabled
        mailbox.save(update_fields=["enabled"])
        record(
            actor,
            "mailbox.enable" if enabled else "mailbox.disable",
            mailbox,
            diff({"enabled": not enabled}, {"enabled": enabled}),
        )
    return mailbox


@transaction.atomic
def ensure_sandbox_mailbox(host: str | None = None, port: int | None = None) -> Mailbox:
    """The "Sandbox" mailbox exists from the first start on; created once, audited as the system.

    Its row says where the sandbox SMTP server listens: ``herald run`` passes the address it
    really listens on, so that every process (web, workers elsewhere) sends to the right port.
    """
    existing = Mailbox.objects.select_for_update().filter(is_sandbox=True).first()
    listening = host is not None and port is not None
    host = host or settings.SANDBOX_SMTP_HOST
    port = settings.SANDBOX_SMTP_PORT if port is None else port
    if existing is not None:
        if listening and (existing.smtp_host, existing.smtp_port) != (host, port):
            before = {"smtp_host": existing.smtp_host, "smtp_port": existing.smtp_port}
            existing.smtp_host, existing.smtp_port = host, port
            existing.save(update_fields=["smtp_host", "smtp_port"])
            record(
                Actor.system("start"),
                "mailbox.change",
                existing,
                diff(before, {"smtp_host": host, "smtp_port": port}),
            )
        return existing
    mailbox = Mailbox.objects.create(
        name=SANDBOX_NAME,
        from_address="campaigns@sandbox.herald.invalid",
        from_name="Herald Sandbox",
        smtp_host=host,
        smtp_port=port,
        smtp_security=SmtpSecurity.NONE,
        is_sandbox=True,
    )
    record(
        Actor.system("first start"),
        "mailbox.create",
        mailbox,
        diff({}, {"name": mailbox.name, "from_address": mailbox.from_address}),
    )
    return mailbox


@transaction.atomic
def do_delete_mailbox(actor: Actor, mailbox: Mailbox) -> None:
    """Deletes a mailbox no campaign, conversation or received mail needs (their history would
    go with it), and that is not the one Herald's own mail goes through."""
    from herald.campaigns.models import Campaign
    from herald.conversations.models import Conversation
    from herald.dispositions.actions import rules_using
    from herald.inbound.models import InboundMessage
    from herald.mailboxes.system_mail import system_mailbox

    reasons = [
        _("campaign “%(name)s” sends through it") % {"name": c.name}
        for c in Campaign.objects.filter(mailbox=mailbox).order_by("name")[:10]
    ]
    conversations = Conversation.objects.filter(mailbox=mailbox).count()
    if conversations:
        reasons.append(_("%(n)d conversations belong to it") % {"n": conversations})
    if InboundMessage.objects.filter(mailbox=mailbox).exists():
        reasons.append(_("mail it received is kept with it"))
    reasons += rules_using(mailbox=mailbox)
    system = system_mailbox()
    if system is not None and system.pk == mailbox.pk:
        reasons.append(_("Herald's own mail (password resets) goes through it"))
    refuse_if(_("The mailbox “%(name)s”") % {"name": mailbox.name}, reasons)
    record(actor, "mailbox.delete", mailbox, {"name": [mailbox.name, None]})
    mailbox.delete()


@transaction.atomic
def do_record_sign_in(actor: Actor, mailbox: Mailbox) -> None:
    """Audits an OAuth sign-in (herald.mailboxes.oauth stored its tokens)."""
    record(
        actor, "mailbox.oauth_sign_in", mailbox, {"oauth_account": [None, mailbox.oauth_account]}
    )


@transaction.atomic
def do_forget_sign_in(actor: Actor, mailbox: Mailbox) -> None:
    """Forgets the mailbox's OAuth sign-in (revoked at the provider where it can be)."""
    from herald.mailboxes import oauth

    account = mailbox.oauth_account
    oauth.revoke(mailbox)
    record(actor, "mailbox.oauth_sign_out", mailbox, {"oauth_account": [account, None]})

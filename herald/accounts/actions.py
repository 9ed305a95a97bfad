"""Changes to users, roles, account settings and API tokens. Each one transaction, each audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from herald.accounts import tokens
from herald.accounts.models import Account, ApiToken, Role, User
from herald.audit.actions import diff, record, snapshot
from herald.audit.actors import Actor

USER_FIELDS = ("email", "name", "role", "language", "is_active")
ACCOUNT_FIELDS = (
    "company_name",
    "address",
    "email",
    "phone",
    "timezone",
    "language",
    "anonymize_ips",
    "presence_idle_seconds",
)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str | None  # set when Herald generated it: shown once, never stored in clear


@transaction.atomic
def do_create_user(
    actor: Actor,
    *,
    email: str,
    role: Role,
    name: str = "",
    password: str | None = None,
    generate: bool = True,
) -> NewUser:
    """Creates a user; without a password one is generated (if ``generate``) and returned once."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": _("%(email)s is not a valid email address.") % {"email": email}}
        ) from None
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": _("A user with this email already exists.")})
    generated = None
    if password is None and generate:
        password = generated = generate_password()
    elif password is not None:
        check_password_strength(password, User(email=email, name=name))
    user = User.objects.create_user(email=email, password=password, name=name, role=role)
    if generated is not None:
        user.must_change_password = True
        user.save(update_fields=["must_change_password"])
    record(actor, "user.create", user, diff({}, snapshot(user, USER_FIELDS)))
    return NewUser(user, generated)


@transaction.atomic
def do_change_user(actor: Actor, user: User, **fields: Any) -> User:
    """Changes a user's name, role, language, time zone or active flag."""
    unknown = set(fields) - {"name", "role", "language", "time_zone", "is_active"}
    if unknown:
        raise TypeError(f"cannot change {', '.join(sorted(unknown))} here")
    if (
        actor.user is not None
        and actor.user.pk == user.pk
        and (fields.get("is_active") is False or fields.get("role", user.role) != user.role)
    ):
        raise ValidationError(_("You cannot deactivate yourself or change your own role."))
    if user.role == Role.ADMIN and (
        fields.get("is_active") is False or fields.get("role", Role.ADMIN) != Role.ADMIN
    ):
        # Locking the other admins' rows makes two admins demoting each other at the same time
        # wait for one another, so that the second one sees the first change and is refused.
        other_admins = (
            User.objects.select_for_update()
            .filter(role=Role.ADMIN, is_active=True)
            .exclude(pk=user.pk)
        )
        if not list(other_admins.values_list("pk", flat=True)):
            raise ValidationError(_("Herald needs at least one active admin."))
    before = snapshot(user, USER_FIELDS)
    for name, value in fields.items():
        setattr(user, name, value)
    # The API passes raw values: a language or role outside the choices must not be saved.
    user.full_clean(exclude=["password"])
    user.save()
    changes = diff(before, snapshot(user, USER_FIELDS))
    if changes:
        record(actor, "user.change", user, changes)
    return user


def check_password_strength(password: str, user: User | None = None) -> None:
    """The account's password rules (``AUTH_PASSWORD_VALIDATORS``), on every path that sets a
    password (pages, API, CLI): a ValidationError on ``password`` saying what is wrong."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None


@transaction.atomic
def do_set_password(actor: Actor, user: User, password: str) -> None:
    """Sets a password the rules accept; the person chose it, so nothing forces a change."""
    check_password_strength(password, user)
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    record(actor, "user.password", user, {"password": ["•••", "•••"]})


@transaction.atomic
def do_update_account(actor: Actor, **fields: Any) -> Account:
    """Changes the account settings (company identity, default time zone and language)."""
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"cannot change {', '.join(sorted(unknown))} here")
    account = Account.objects.select_for_update().get(pk=Account.load().pk)
    before = snapshot(account, ACCOUNT_FIELDS)
    for name, value in fields.items():
        setattr(account, name, value)
    account.full_clean()
    account.save()
    changes = diff(before, snapshot(account, ACCOUNT_FIELDS))
    if changes:
        record(actor, "account.change", account, changes)
    return account


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    plaintext: str  # shown once to the person who created it


@transaction.atomic
def do_create_api_token(actor: Actor, user: User, name: str) -> NewToken:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name that says what uses it.")})
    plaintext, prefix, digest = tokens.new_token()
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, digest=digest)
    record(actor, "api_token.create", token, {"user": [None, user.email], "name": [None, name]})
    return NewToken(token, plaintext)


@transaction.atomic
def do_revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(actor, "api_token.revoke", token, {"revoked": [False, True]})
    return token


def authenticate_token(plaintext: str) -> ApiToken | None:
    """The active token matching ``plaintext``, or None. Notes when it was last used."""
    prefix = tokens.parse_prefix(plaintext)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not token.is_active or not tokens.matches(plaintext, token.digest):
        return None
    now = timezone.now()
    # Coarse on purpose: one write a minute per token, not one per request.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


@dataclass(frozen=True)
class Bootstrap:
    admin: User | None
    password: str | None


@transaction.atomic
def ensure_first_admin(email: str, password: str | None) -> Bootstrap:
    """On first start (no user at all) creates an admin; returns a generated password once."""
    if User.objects.exists():
        return Bootstrap(None, None)
    new = do_create_user(
        Actor.system("first start"),
        email=email,
        role=Role.ADMIN,
        name="Admin",
        password=password or None,
    )
    return Bootstrap(new.user, new.password)


PROFILE_FIELDS = ("name", "language", "time_zone")


@transaction.atomic
def do_change_profile(actor: Actor, user: User, **fields: Any) -> User:
    """What each user changes about themselves: name, language and time zone."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"cannot change {', '.join(sorted(unknown))} in a profile")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = snapshot(user, list(PROFILE_FIELDS))
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.save(update_fields=list(fields))
    changes = diff(before, snapshot(user, list(PROFILE_FIELDS)))
    if changes:
        record(actor, "user.profile", user, changes)
    return user

"""Users, roles, the account's settings and API tokens."""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a user may do. Each role includes everything the roles before it may do."""

    AGENT = "agent", _("Agent")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class User(AbstractBaseUser):
    """A person who logs in: an agent, a manager or an admin."""

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the account's language."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        choices=_timezone_choices,
        help_text=_("Empty: the account's time zone. Every page shows times in it."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # A password Herald generated (shown once to whoever created the account) must be replaced
    # by one only the person knows: every page sends them to the password page until it is.
    must_change_password = models.BooleanField(default=False, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        ordering = ["email"]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def has_role(self, role: Role) -> bool:
        return self.is_active and self.role_enum.includes(role)


class Account(models.Model):
    """The one account this Herald serves: its identity (template variables) and defaults.

    A singleton (pk=1), read with ``Account.load()``.
    """

    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    address = models.TextField(_("postal address"), blank=True)
    email = models.EmailField(_("contact email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    timezone = models.CharField(
        _("default time zone"), max_length=64, default="UTC", choices=_timezone_choices
    )
    language = models.CharField(
        _("default language"), max_length=8, default="en", choices=settings.LANGUAGES
    )
    anonymize_ips = models.BooleanField(
        _("anonymize recipients' IP addresses"),
        default=True,
        help_text=_(
            "Opens and clicks keep only the network part of the address (IPv4 /24, IPv6 /48)."
        ),
    )
    presence_idle_seconds = models.PositiveIntegerField(
        _("agents go offline after (seconds idle)"),
        default=900,
        validators=[MinValueValidator(60)],
        help_text=_(
            "An agent with no activity in Herald for this long is set offline and no longer "
            "offered conversations."
        ),
    )

    class Meta:
        verbose_name = _("account settings")

    def __str__(self) -> str:
        return self.company_name or "Herald"

    @classmethod
    def load(cls) -> Account:
        account, _created = cls.objects.get_or_create(pk=1)
        return account

    def variables(self) -> dict[str, str]:
        """The account variables templates use: ``${company_name}``, ``${company_phone}``, ..."""
        return {
            "company_name": self.company_name,
            "company_address": self.address,
            "company_email": self.email,
            "company_phone": self.phone,
        }


class ApiToken(models.Model):
    """A bearer token acting as its user. Only a hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    # The public part of the token, to find it without scanning and to show which one it is.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.user.is_active

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import ConfigDict

from herald.accounts.models import Role


class Input(Schema):
    """A request body: a field the operation does not take is refused (422), never ignored."""

    model_config = ConfigDict(extra="forbid")


class Error(Schema):
    detail: str | dict | list


class InUseOut(Schema):
    """A deletion refused: what needs the object still."""

    detail: str
    reasons: list[str]


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: Role
    language: str
    time_zone: str
    is_active: bool


class UserIn(Input):
    email: str
    name: str = ""
    role: Role = Role.AGENT
    password: str | None = None


class UserCreated(UserOut):
    generated_password: str | None = None


class UserPatch(Input):
    name: str | None = None
    role: Role | None = None
    language: str | None = None
    time_zone: str | None = None
    is_active: bool | None = None


class ProfilePatch(Input):
    name: str | None = None
    language: str | None = None
    time_zone: str | None = None


class AccountOut(Schema):
    company_name: str
    address: str
    email: str
    phone: str
    timezone: str
    language: str
    anonymize_ips: bool
    presence_idle_seconds: int


class AccountPatch(Input):
    company_name: str | None = None
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    language: str | None = None
    anonymize_ips: bool | None = None
    presence_idle_seconds: int | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    user_email: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Input):
    name: str
    user_id: int | None = None


class TokenCreated(TokenOut):
    token: str


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict


class AuditPage(Schema):
    events: list[AuditEventOut]
    next_before: int | None

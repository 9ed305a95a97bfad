"""Who did a change: a logged-in user, an API token (acting as its user), the CLI or the system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from herald.accounts.models import ApiToken, User


@dataclass(frozen=True)
class Actor:
    label: str
    user: User | None = None
    token: ApiToken | None = None

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(label=what)

    @classmethod
    def for_user(cls, user: User, via: str = "") -> Actor:
        label = user.email if not via else f"{user.email} ({via})"
        return cls(label=label, user=user)

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(
            label=f"{token.user.email} (API token {token.name})", user=token.user, token=token
        )

    @classmethod
    def for_request(cls, request: HttpRequest) -> Actor:
        token = getattr(request, "api_token", None)
        if token is not None:
            return cls.for_token(token)
        user = request.user
        if user.is_authenticated:
            return cls.for_user(user)
        return cls.system("anonymous")

"""Bearer-token authentication that also enforces the role an endpoint needs.

The role is checked here, before the body is parsed, so that a forbidden caller learns nothing
about an endpoint's input from validation errors.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from herald.accounts import actions
from herald.accounts.models import Role


class TokenAuth(HttpBearer):
    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = actions.authenticate_token(token)
        if api_token is None:
            return None  # ninja answers 401
        if not api_token.user.has_role(self.role):
            raise HttpError(403, f"this needs the {self.role.label} role")
        request.api_token = api_token  # type: ignore[attr-defined]
        request.user = api_token.user
        return api_token.user


AGENT = TokenAuth(Role.AGENT)
MANAGER = TokenAuth(Role.MANAGER)
ADMIN = TokenAuth(Role.ADMIN)

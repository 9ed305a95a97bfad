"""The one permission layer: which role may open which page, call which endpoint, run which command.

Views declare their access with ``@role_required(Role.X)`` or ``@public``; the API uses
``herald.api.auth.TokenAuth(Role.X)``; the CLI acts as a named user checked with ``check_role``.
The role matrix test walks every URL and fails on any view that declares neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from herald.accounts.models import Role, User

ACCESS_ATTR = "herald_access"
PUBLIC = "public"

V = TypeVar("V", bound=Callable[..., HttpResponse])


def current_user(request: HttpRequest) -> User:
    """The logged-in user of a request that passed ``role_required`` (or token auth)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("not logged in")
    return user


def user_has_role(user: Any, role: Role) -> bool:
    return bool(user.is_authenticated and isinstance(user, User) and user.has_role(role))


def check_role(user: Any, role: Role) -> None:
    """Raises PermissionDenied unless ``user`` holds ``role`` (or a role that includes it)."""
    if not user_has_role(user, role):
        raise PermissionDenied(f"this needs the {role.label} role")


def role_required(role: Role) -> Callable[[V], V]:
    """Pages for logged-in users holding ``role``: others are sent to log in, or get 403.

    Put it outermost (above ``require_POST`` and the like) so that access is decided before
    anything else answers; the role matrix test checks it.
    """

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            check_role(request.user, role)
            return view(request, *args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, role)
        return wrapper  # type: ignore[return-value]

    return decorator


def public(view: V) -> V:
    """Pages anyone may open (login, health, recipient-facing links)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def access_of(view: Callable[..., Any]) -> Role | str | None:
    return getattr(view, ACCESS_ATTR, None)

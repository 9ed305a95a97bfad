"""Uses the logged-in user's language (or the account's) unless the visitor picked one."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        user = request.user
        if not chosen and user.is_authenticated and getattr(user, "language", ""):
            translation.activate(user.language)  # type: ignore[union-attr]
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)

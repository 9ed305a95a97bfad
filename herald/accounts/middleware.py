"""Uses the logged-in user's language (or the account's) unless the visitor picked one, and
the user's time zone (or the account's) for every time a page shows."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from herald.accounts.models import Account


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = getattr(request.user, "language", "") if request.user.is_authenticated else ""
        if not chosen and language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        zone = ""
        if request.user.is_authenticated:
            zone = getattr(request.user, "time_zone", "") or Account.load().timezone
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone or settings.TIME_ZONE))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

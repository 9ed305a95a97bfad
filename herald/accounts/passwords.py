"""Passwords: changing one's own, the reset by email, and the forced change of a generated one.

Every path that sets a password goes through ``actions.do_set_password`` (the rules of
``AUTH_PASSWORD_VALIDATORS``, an audit entry, the end of a forced change). The reset email is
sent like any other system mail: through the system mailbox, by the worker
(``herald.mailboxes.system_mail``), so that the embedded default shows it in the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _

from herald.accounts import actions
from herald.accounts.access import current_user, public, role_required
from herald.accounts.models import Role, User
from herald.audit.actors import Actor


class _SavesThroughActions:
    """The Django password forms, saving through ``do_set_password``."""

    user: User
    cleaned_data: dict[str, Any]
    via = ""

    def save(self, commit: bool = True) -> User:
        actions.do_set_password(
            Actor.for_user(self.user, via=self.via), self.user, self.cleaned_data["new_password1"]
        )
        return self.user


class ChangeForm(_SavesThroughActions, auth_forms.PasswordChangeForm):
    via = "password page"


class ResetSetForm(_SavesThroughActions, auth_forms.SetPasswordForm):
    via = "password reset by email"


@role_required(Role.AGENT)
def change_password(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = ChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, user)  # stays logged in here, out elsewhere
        messages.success(request, _("Your password is changed."))
        return redirect("home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": user.must_change_password},
    )


reset = public(  # type: ignore[type-var]
    auth_views.PasswordResetView.as_view(
        template_name="registration/reset_form.html",
        email_template_name="registration/reset_email.txt",
        subject_template_name="registration/reset_subject.txt",
        success_url=reverse_lazy("password_reset_done"),
    )
)
reset_done = public(
    auth_views.PasswordResetDoneView.as_view(template_name="registration/reset_done.html")
)
reset_confirm = public(  # type: ignore[type-var]
    auth_views.PasswordResetConfirmView.as_view(
        template_name="registration/reset_confirm.html",
        form_class=ResetSetForm,
        success_url=reverse_lazy("password_reset_complete"),
    )
)
reset_complete = public(
    auth_views.PasswordResetCompleteView.as_view(template_name="registration/reset_complete.html")
)


class ForcedChangeMiddleware:
    """Sends a user whose password Herald generated to the password page, from every page,
    until they chose their own (the API, logging out and the page itself excepted)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not request.path.startswith(("/api/", "/static/"))
            and request.path not in (reverse("accounts:password"), reverse("logout"))
        ):
            messages.info(request, _("Choose your own password to go on."))
            return redirect("accounts:password")
        return self.get_response(request)

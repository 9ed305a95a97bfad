"""Two-factor login (optional, per user): a code from an authenticator app after the password.

django-otp keeps the secrets and checks the codes (TOTP per RFC 6238 with clock drift and
throttling after failures; one-time backup codes). What is Herald's here: the second login step,
the page where a user turns it on (QR code drawn by segno, confirmed by a first code) or off, and
the admin's reset for a user who lost their phone and their backup codes. Each change is audited.

The password step never logs in a user who has two-factor on: it leaves the user's id in the
session as *pending*, for ``TWO_FACTOR_PENDING_SECONDS`` and ``MAX_CODE_TRIES`` codes; only a right
code logs in. API tokens are not affected: a token is a credential of its own.
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from herald.accounts.access import current_user, public, role_required
from herald.accounts.models import Role, User
from herald.audit.actions import record
from herald.audit.actors import Actor

BACKUP_CODES = 10
TWO_FACTOR_PENDING_SECONDS = 300
MAX_CODE_TRIES = 5
_PENDING = "herald_two_factor_pending"


# -- State and actions ---------------------------------------------------------------------------


def is_on(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _unconfirmed_device(user: User) -> TOTPDevice:
    """The authenticator being set up: the same secret until confirmed, so a reload of the page
    does not invalidate the QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def do_turn_on(actor: Actor, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirms the authenticator with its first code; returns the backup codes (shown once),
    or None when the code is not right."""
    if not device.verify_token(code.strip().replace(" ", "")):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_backup_codes(user)
    record(actor, "user.two_factor", user, {"two_factor": ["off", "on"]})
    return codes


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=backup, token=code) for code in codes)
    return codes


@transaction.atomic
def do_new_backup_codes(actor: Actor, user: User) -> list[str]:
    codes = _new_backup_codes(user)
    record(actor, "user.two_factor", user, {"backup_codes": ["•••", "•••"]})
    return codes


@transaction.atomic
def do_turn_off(actor: Actor, user: User) -> bool:
    """Removes the user's authenticator and backup codes (their own choice, or an admin's reset
    for a lost phone). Returns whether two-factor was on."""
    was_on = is_on(user)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    if was_on:
        record(actor, "user.two_factor", user, {"two_factor": ["on", "off"]})
    return was_on


def qr_code_svg(device: TOTPDevice) -> str:
    """The ``otpauth://`` URL as an inline SVG QR code (no image request, no data: URL)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#111", light="#fff")


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for apps that take it typed in."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# -- Login: the password step, then the code ---------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login, except that a user with two-factor on is only *pending* after it."""

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not is_on(user):
            return super().form_valid(form)
        self.request.session[_PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "since": time.time(),
            "tries": 0,
            "next": self.get_success_url(),
        }
        return redirect("login_code")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy("The 6 digits your authenticator app shows, or a backup code."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("since", 0) > TWO_FACTOR_PENDING_SECONDS:
        del request.session[_PENDING]
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if not isinstance(user, User):
        return None
    return user, pending


@public
def login_code(request: HttpRequest) -> HttpResponse:
    """The second login step: a code from the authenticator app, or one backup code."""
    found = _pending_user(request)
    if found is None:
        messages.info(request, _("Log in again: the code is asked for within 5 minutes."))
        return redirect("login")
    user, pending = found
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip().replace(" ", "").replace("-", "")
        device = match_token(user, code)
        if device is not None:
            del request.session[_PENDING]
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = StaticToken.objects.filter(device=device).count()
                messages.warning(
                    request,
                    _("You used a backup code: %(left)d left. Make new ones in your settings.")
                    % {"left": left},
                )
            target = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                target = reverse("home")
            return redirect(target)
        pending["tries"] = pending.get("tries", 0) + 1
        if pending["tries"] >= MAX_CODE_TRIES:
            del request.session[_PENDING]
            messages.error(request, _("Too many wrong codes: log in again."))
            return redirect("login")
        request.session[_PENDING] = pending
        form.add_error("code", _("This code is not right (or has expired): try the one shown now."))
    return render(request, "accounts/login_code.html", {"form": form})


# -- The user's own settings page, and the admin's reset ----------------------------------------


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your password."))
        return password


@role_required(Role.AGENT)
def settings_page(request: HttpRequest) -> HttpResponse:
    """Turn two-factor on (scan, confirm with a code, keep the backup codes) or off."""
    user = current_user(request)
    actor = Actor.for_request(request)
    action = request.POST.get("action", "")
    context: dict[str, Any] = {"on": is_on(user)}
    if context["on"]:
        form = PasswordConfirmForm(user, request.POST if action else None)
        if action in ("off", "codes") and form.is_valid():
            if action == "off":
                do_turn_off(actor, user)
                messages.success(request, _("Two-factor login is off."))
                return redirect("accounts:two_factor")
            context["backup_codes"] = do_new_backup_codes(actor, user)
        context["form"] = form
        context["codes_left"] = StaticToken.objects.filter(device__user=user).count()
        return render(request, "accounts/two_factor.html", context)
    device = _unconfirmed_device(user)
    code_form = CodeForm(request.POST if action == "on" else None)
    if action == "on" and code_form.is_valid():
        codes = do_turn_on(actor, user, device, code_form.cleaned_data["code"])
        if codes is not None:
            messages.success(request, _("Two-factor login is on."))
            context.update(on=True, backup_codes=codes, form=PasswordConfirmForm(user))
            context["codes_left"] = len(codes)
            return render(request, "accounts/two_factor.html", context)
        code_form.add_error(
            "code", _("This code is not right: check the phone's clock, and try again.")
        )
    context.update(
        form=code_form, qr_code=qr_code_svg(device), secret=secret_for_typing(device), device=device
    )
    return render(request, "accounts/two_factor.html", context)


@role_required(Role.ADMIN)
@require_POST
def reset_for_user(request: HttpRequest, user_id: int) -> HttpResponse:
    """An admin turns a user's two-factor off (lost phone and backup codes): the user logs in
    with the password alone, and may turn it on again."""
    user = get_object_or_404(User, pk=user_id)
    if do_turn_off(Actor.for_request(request), user):
        messages.success(request, _("Two-factor login is off for %(user)s.") % {"user": user})
    return redirect("accounts:user_edit", user_id=user.pk)

"""Admin pages: users, API tokens, account settings; and each user's own tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from herald.accounts import actions, two_factor
from herald.accounts.access import current_user, role_required
from herald.accounts.forms import (
    AccountForm,
    ProfileForm,
    TokenCreateForm,
    UserChangeForm,
    UserCreateForm,
)
from herald.accounts.models import Account, ApiToken, Role, User
from herald.audit.actors import Actor
from herald.core.forms import add_errors


@role_required(Role.ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.do_create_user(
                Actor.for_request(request),
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
                password=form.cleaned_data["password"] or None,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            if new.password:
                messages.success(
                    request,
                    _("User %(email)s created. Their password, shown only now: %(password)s")
                    % {"email": new.user.email, "password": new.password},
                )
            else:
                messages.success(request, _("User %(email)s created.") % {"email": new.user.email})
            return redirect("accounts:users")
    users = User.objects.order_by("-is_active", "email")
    return render(request, "accounts/users.html", {"users": users, "form": form})


@role_required(Role.ADMIN)
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = UserChangeForm(request.POST or None, instance=user)
    if request.method == "POST":
        # The form validates; the action changes, so the audit row sees the real before-values.
        form = UserChangeForm(request.POST, instance=User.objects.get(pk=user.pk))
        if form.is_valid():
            try:
                actions.do_change_user(Actor.for_request(request), user, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("accounts:users")
    return render(
        request,
        "accounts/user_edit.html",
        {"subject": user, "form": form, "two_factor_on": two_factor.is_on(user)},
    )


@role_required(Role.ADMIN)
def account_settings(request: HttpRequest) -> HttpResponse:
    account = Account.load()
    form = AccountForm(request.POST or None, instance=Account.load())
    if request.method == "POST" and form.is_valid():
        actions.do_update_account(Actor.for_request(request), **form.cleaned_data)
        messages.success(request, _("Account settings saved."))
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form, "account": account})


def _token_form(data: object, me: User, is_admin: bool) -> TokenCreateForm:
    form = TokenCreateForm(data, initial={"user": me.pk})  # type: ignore[arg-type]
    if not is_admin:  # others may only create tokens acting as themselves
        form.fields["user"].queryset = User.objects.filter(pk=me.pk)  # type: ignore[attr-defined]
    return form


@role_required(Role.AGENT)
def token_list(request: HttpRequest) -> HttpResponse:
    """Every user manages their own tokens; an admin sees and manages everyone's."""
    me = current_user(request)
    is_admin = me.has_role(Role.ADMIN)
    form = _token_form(request.POST or None, me, is_admin)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = actions.do_create_api_token(
                Actor.for_request(request), form.cleaned_data["user"], form.cleaned_data["name"]
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            form = _token_form(None, me, is_admin)
    tokens = ApiToken.objects.select_related("user")
    if not is_admin:
        tokens = tokens.filter(user=me)
    return render(
        request,
        "accounts/tokens.html",
        {"tokens": tokens, "form": form, "created": created, "is_admin": is_admin},
    )


@role_required(Role.AGENT)
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    me = current_user(request)
    tokens = ApiToken.objects.all()
    if not me.has_role(Role.ADMIN):
        tokens = tokens.filter(user=me)
    token = get_object_or_404(tokens, pk=token_id)
    actions.do_revoke_api_token(Actor.for_request(request), token)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("accounts:tokens")


@role_required(Role.AGENT)
def profile(request: HttpRequest) -> HttpResponse:
    """Each user's own name, language and time zone (every page shows times in that zone)."""
    me = current_user(request)
    form = ProfileForm(request.POST or None, instance=User.objects.get(pk=me.pk))
    if request.method == "POST" and form.is_valid():
        actions.do_change_profile(Actor.for_request(request), me, **form.cleaned_data)
        messages.success(request, _("Saved."))
        response = redirect("accounts:profile")
        # The language menu's choice would otherwise win over the one just saved.
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    zone = me.time_zone or Account.load().timezone
    return render(request, "accounts/profile.html", {"form": form, "zone": zone})

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.i18n import set_language

from herald.accounts import two_factor
from herald.accounts.access import current_user, public, role_required
from herald.accounts.models import Account, Role
from herald.core import attention, health
from herald.core.metrics import metrics_view


@role_required(Role.AGENT)
def home(request: HttpRequest) -> HttpResponse:
    """What needs the user now (herald.core.attention), and first steps on a new Herald."""
    from herald.campaigns.models import Campaign
    from herald.contacts.models import ContactList

    user = current_user(request)
    first_steps = user.has_role(Role.MANAGER) and not (
        ContactList.objects.exists() and Campaign.objects.exists()
    )
    context = {
        "account": Account.load(),
        "items": attention.for_user(user),
        "first_steps": first_steps,
    }
    return render(request, "core/home.html", context)


@public
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.check()
    return JsonResponse(report.as_dict(), status=200 if report.database_ok else 503)


login = public(two_factor.LoginView.as_view())  # type: ignore[type-var]
logout = public(auth_views.LogoutView.as_view())
metrics = public(metrics_view)
language = public(set_language)


@public
def favicon(request: HttpRequest) -> HttpResponse:
    """For the programs that ask for /favicon.ico whatever a page's ``<link rel="icon">`` says."""
    return redirect(static("herald/favicon.svg"))

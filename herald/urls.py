from django.urls import include, path, register_converter

from herald.accounts import passwords, two_factor
from herald.api.api import api, not_found
from herald.core import views


class _Anything:
    """Any rest of an address, line breaks included (``path:`` stops at them)."""

    regex = "(?s:.+)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(_Anything, "anything")

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/code/", two_factor.login_code, name="login_code"),
    path("logout/", views.logout, name="logout"),
    path("password-reset/", passwords.reset, name="password_reset"),
    path("password-reset/sent/", passwords.reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", passwords.reset_confirm, name="password_reset_confirm"),
    path("reset/done/", passwords.reset_complete, name="password_reset_complete"),
    path("language/", views.language, name="set_language"),
    path("healthz", views.healthz, name="healthz"),
    # For the programs that ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", views.metrics, name="metrics"),
    path("settings/", include("herald.accounts.urls")),
    path("settings/webhooks/", include("herald.webhooks.urls")),
    path("dispositions/", include("herald.dispositions.urls")),
    path("history/", include("herald.audit.urls")),
    path("mailboxes/", include("herald.mailboxes.urls")),
    path("contacts/", include("herald.contacts.urls")),
    path("templates/", include("herald.messaging.urls")),
    path("campaigns/", include("herald.campaigns.urls")),
    path("conversations/", include("herald.conversations.urls")),
    path("", include("herald.routing.urls")),
    path("api/v1/", api.urls),
    path("api/<anything:rest>", not_found, name="api_not_found"),
    # Recipient links (/o/, /c/, /u/, /r/, /v/), campaign statistics and the dashboard.
    path("", include("herald.tracking.urls")),
]

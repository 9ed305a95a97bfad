from django.urls import path

from herald.core.deletion import delete_view
from herald.mailboxes import views
from herald.mailboxes.actions import do_delete_mailbox
from herald.mailboxes.models import Mailbox

app_name = "mailboxes"
urlpatterns = [
    path("", views.mailbox_list, name="list"),
    path("new/", views.mailbox_edit, name="new"),
    path("<int:mailbox_id>/", views.mailbox_edit, name="edit"),
    path(
        "<int:mailbox_id>/delete/",
        delete_view(
            Mailbox,
            do_delete_mailbox,
            parameter="mailbox_id",
            kept_at="mailboxes:edit",
            gone_to="mailboxes:list",
        ),
        name="delete",
    ),
    path("<int:mailbox_id>/test/", views.mailbox_test, name="test"),
    path("<int:mailbox_id>/enabled/", views.mailbox_enabled, name="enabled"),
    path("<int:mailbox_id>/oauth/sign-in/", views.oauth_start, name="oauth_start"),
    path("<int:mailbox_id>/oauth/sign-out/", views.oauth_forget, name="oauth_forget"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/<int:message_id>/", views.sandbox_message, name="sandbox_message"),
    path("sandbox/<int:message_id>/html/", views.sandbox_message_html, name="sandbox_message_html"),
    path("sandbox/<int:message_id>/raw/", views.sandbox_message_raw, name="sandbox_message_raw"),
    path("sandbox/<int:message_id>/reply/", views.sandbox_reply, name="sandbox_reply"),
]

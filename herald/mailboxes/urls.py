from django.urls import path

from herald.mailboxes import views

app_name = "mailboxes"
urlpatterns = [
    path("", views.mailbox_list, name="list"),
    path("new/", views.mailbox_edit, name="new"),
    path("<int:mailbox_id>/", views.mailbox_edit, name="edit"),
    path("<int:mailbox_id>/test/", views.mailbox_test, name="test"),
    path("<int:mailbox_id>/enabled/", views.mailbox_enabled, name="enabled"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/<int:message_id>/", views.sandbox_message, name="sandbox_message"),
    path("sandbox/<int:message_id>/html/", views.sandbox_message_html, name="sandbox_message_html"),
    path("sandbox/<int:message_id>/raw/", views.sandbox_message_raw, name="sandbox_message_raw"),
    path("sandbox/<int:message_id>/reply/", views.sandbox_reply, name="sandbox_reply"),
]

from django.urls import path

from herald.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("<int:endpoint_id>/", views.endpoint_detail, name="detail"),
    *(
        path(f"<int:endpoint_id>/{action}/", views.endpoint_action, {"action": action}, name=action)
        for action in ("rotate", "replay", "delete")
    ),
    path(
        "<int:endpoint_id>/messages/<int:message_pk>/replay/",
        views.message_replay,
        name="replay_message",
    ),
]

from django.urls import path

from herald.conversations import views

app_name = "conversations"
urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("<int:conversation_id>/", views.conversation_detail, name="detail"),
    path("attachments/<int:part_id>/", views.attachment, name="attachment"),
    path("quarantine/", views.quarantine, name="quarantine"),
    path("inbound/<int:inbound_id>/raw/", views.inbound_raw, name="inbound_raw"),
    path("inbound/<int:inbound_id>/retry/", views.inbound_retry, name="inbound_retry"),
]

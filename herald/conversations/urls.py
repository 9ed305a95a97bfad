from django.urls import path

from herald.conversations import views

app_name = "conversations"
urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("rows/", views.conversation_rows, name="rows"),
    path("new/", views.new_email, name="new"),
    path("<int:conversation_id>/", views.conversation_detail, name="detail"),
    path("<int:conversation_id>/live/", views.conversation_live, name="live"),
    path("<int:conversation_id>/take/", views.take, name="take"),
    path("<int:conversation_id>/assign/", views.assign, name="assign"),
    path("<int:conversation_id>/status/", views.set_status, name="status"),
    path("<int:conversation_id>/close/", views.close, name="close"),
    path("<int:conversation_id>/answer/", views.answer, name="answer"),
    path("<int:conversation_id>/cc/", views.edit_cc, name="cc"),
    path("<int:conversation_id>/answering/", views.answering, name="answering"),
    path("<int:conversation_id>/saved-answer/", views.saved_answer, name="saved_answer"),
    path("attachments/<int:part_id>/", views.attachment, name="attachment"),
    path("sent/<int:sent_id>/raw/", views.sent_raw, name="sent_raw"),
    path("members/", views.members, name="members"),
    path("wrap-up/", views.wrapup_reasons, name="wrapup"),
    path("wrap-up/report/", views.wrapup_report, name="wrapup_report"),
    path("quarantine/", views.quarantine, name="quarantine"),
    path("inbound/<int:inbound_id>/raw/", views.inbound_raw, name="inbound_raw"),
    path("inbound/<int:inbound_id>/retry/", views.inbound_retry, name="inbound_retry"),
]

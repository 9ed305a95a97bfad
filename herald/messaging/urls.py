from django.urls import path

from herald.messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_edit, name="new"),
    path("<int:template_id>/", views.template_edit, name="edit"),
    path("<int:template_id>/versions/", views.versions, name="versions"),
    path("<int:template_id>/preview/", views.preview, name="preview"),
    path("<int:template_id>/send-test/", views.send_test, name="send_test"),
    path("<int:template_id>/attachments/", views.attachment_add, name="attachment_add"),
    path(
        "attachments/<int:attachment_id>/remove/",
        views.attachment_remove,
        name="attachment_remove",
    ),
    path("versions/<int:version_id>/restore/", views.restore, name="restore"),
    path("signatures/", views.signatures, name="signatures"),
    path("signatures/<int:signature_id>/", views.signatures, name="signature_edit"),
]

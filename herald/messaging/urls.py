from django.urls import path

from herald.core.deletion import delete_view
from herald.messaging import views
from herald.messaging.actions import do_delete_template
from herald.messaging.models import Template

app_name = "messaging"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_edit, name="new"),
    path("<int:template_id>/", views.template_edit, name="edit"),
    path(
        "<int:template_id>/delete/",
        delete_view(
            Template,
            do_delete_template,
            parameter="template_id",
            kept_at="messaging:edit",
            gone_to="messaging:list",
        ),
        name="delete",
    ),
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

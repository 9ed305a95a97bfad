from django.urls import path

from herald.contacts import views
from herald.contacts.actions import do_delete_list
from herald.contacts.models import ContactList
from herald.core.deletion import delete_view

app_name = "contacts"
urlpatterns = [
    path("", views.contacts, name="search"),
    path("<int:contact_id>/", views.contact_detail, name="contact"),
    path("<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("<int:contact_id>/erase/", views.contact_erase, name="contact_erase"),
    path("<int:contact_id>/persons/", views.person_add, name="person_add"),
    path("<int:contact_id>/persons/<int:person_id>/", views.person_change, name="person_change"),
    path(
        "<int:contact_id>/persons/<int:person_id>/remove/",
        views.person_remove,
        name="person_remove",
    ),
    path("lists/", views.lists, name="lists"),
    path("lists/<int:list_id>/", views.list_detail, name="list"),
    path(
        "lists/<int:list_id>/delete/",
        delete_view(
            ContactList,
            do_delete_list,
            parameter="list_id",
            kept_at="contacts:list",
            gone_to="contacts:lists",
        ),
        name="list_delete",
    ),
    path("lists/<int:list_id>/upload/", views.upload, name="upload"),
    path("lists/<int:list_id>/check-mx/", views.check_mx, name="check_mx"),
    path("lists/<int:list_id>/refresh/", views.refresh, name="refresh"),
    path("lists/<int:list_id>/export.csv", views.export, name="export"),
    path("imports/<int:job_id>/", views.import_detail, name="import"),
    path("imports/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:job_id>/rejected.csv", views.import_report, name="import_report"),
    path("suppressions/", views.suppressions, name="suppressions"),
    path(
        "suppressions/<int:entry_id>/remove/", views.suppression_remove, name="suppression_remove"
    ),
]

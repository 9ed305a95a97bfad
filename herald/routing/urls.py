from django.urls import path

from herald.routing import views

app_name = "routing"
urlpatterns = [
    path("presence/", views.presence, name="presence"),
    path("supervisor/", views.supervisor, name="supervisor"),
    path("supervisor/live/", views.supervisor_live, name="supervisor_live"),
]

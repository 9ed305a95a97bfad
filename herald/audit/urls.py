from django.urls import path

from herald.audit import views

app_name = "audit"
urlpatterns = [path("", views.history, name="history")]

from django.urls import path

from herald.dispositions import views

app_name = "dispositions"
urlpatterns = [
    path("", views.page, name="page"),
    path("rules/<int:rule_id>/", views.rule_detail, name="rule"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
]

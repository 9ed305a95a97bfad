from django.urls import path

from herald.tracking import views

app_name = "tracking"
urlpatterns = [
    # Recipients' links (herald.campaigns.links builds them).
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/<int:index>", views.click, name="click"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("optout/<str:signed>", views.confirm_optout, name="confirm_optout"),
    path("r/<str:token>/<int:score>", views.rate, name="rate"),
    path("v/<str:token>", views.view_in_browser, name="view"),
    # Supervisors.
    path("campaigns/<int:campaign_id>/stats/", views.campaign_stats, name="stats"),
    path("campaigns/<int:campaign_id>/stats/live/", views.campaign_stats_live, name="stats_live"),
    path("campaigns/<int:campaign_id>/stats/people.csv", views.people_csv, name="people_csv"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/live/", views.dashboard_live, name="dashboard_live"),
    path("dashboard/<int:campaign_id>/pause/", views.dashboard_pause, name="pause"),
    path("dashboard/<int:campaign_id>/resume/", views.dashboard_resume, name="resume"),
]

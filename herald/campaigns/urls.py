from django.urls import path

from herald.campaigns import views
from herald.campaigns.actions import do_delete_campaign
from herald.campaigns.models import Campaign
from herald.core.deletion import delete_view

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_edit, name="new"),
    path("recipients/", views.recipients, name="recipients"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path(
        "<int:campaign_id>/delete/",
        delete_view(
            Campaign,
            do_delete_campaign,
            parameter="campaign_id",
            kept_at="campaigns:detail",
            gone_to="campaigns:list",
        ),
        name="delete",
    ),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<int:campaign_id>/live/", views.campaign_live, name="live"),
    path("<int:campaign_id>/duplicate/", views.campaign_duplicate, name="duplicate"),
    *(
        path(
            f"<int:campaign_id>/{name}/",
            views.campaign_transition,
            {"transition": name},
            name=name,
        )
        for name in views.TRANSITIONS
    ),
]

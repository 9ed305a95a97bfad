from django.urls import path

from herald.accounts import passwords, two_factor, views

app_name = "accounts"
urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("account/", views.account_settings, name="settings"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("password/", passwords.change_password, name="password"),
    path("profile/", views.profile, name="profile"),
    path("two-factor/", two_factor.settings_page, name="two_factor"),
    path(
        "users/<int:user_id>/two-factor/reset/",
        two_factor.reset_for_user,
        name="two_factor_reset",
    ),
]

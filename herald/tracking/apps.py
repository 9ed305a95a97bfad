from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "herald.tracking"
    label = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "herald.tracking"
    label = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every worker records the opens and clicks the web processes of its machine journaled.
        from herald.core.worker import register_loop
        from herald.tracking import journal

        register_loop("tracking-journal", 1.0, close=journal.import_close)(journal.import_step)

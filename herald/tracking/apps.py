from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "herald.tracking"
    label = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every worker records the opens and clicks the web processes of its machine journaled,
        # at a lower CPU priority: under a burst, answering recipients comes first, and what
        # they asked for is already safe in the journal (journal.IMPORT_NICE).
        from herald.core.worker import register_loop
        from herald.tracking import journal

        register_loop(
            "tracking-journal", 1.0, close=journal.import_close, nice=journal.IMPORT_NICE
        )(journal.import_step)

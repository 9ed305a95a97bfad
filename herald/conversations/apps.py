from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "herald.conversations"
    label = "conversations"

    def ready(self) -> None:
        # Every worker keeps the desk moving: snoozed conversations open again on time, and
        # answers whose task was lost or whose retry is due are sent (herald.conversations.tasks).
        from herald.conversations.tasks import desk_step
        from herald.core.worker import register_loop

        register_loop("desk", 2.0)(desk_step)

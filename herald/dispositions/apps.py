from __future__ import annotations

from django.apps import AppConfig


class DispositionsConfig(AppConfig):
    name = "herald.dispositions"
    label = "dispositions"

    def ready(self) -> None:
        from herald.core.worker import register_loop
        from herald.dispositions.sending import send_due

        # Every worker sends the triggered emails that are due (after their delay, in their window).
        register_loop("dispositions", 1.0)(send_due)

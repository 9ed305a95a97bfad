from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "herald.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from herald.core.worker import register_loop
        from herald.webhooks.dispatch import step

        # Every worker fans captured events out to the endpoints and delivers what is due.
        register_loop("webhooks", 0.5)(step)

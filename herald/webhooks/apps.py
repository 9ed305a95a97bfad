from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "herald.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from herald.core.worker import register_loop
        from herald.webhooks.dispatch import LOOP_INTERVAL, step

        # Every worker fans captured events out to the endpoints and delivers what is due.
        register_loop("webhooks", LOOP_INTERVAL)(step)

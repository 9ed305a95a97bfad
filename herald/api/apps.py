from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "herald.api"
    label = "api"

    def ready(self) -> None:
        from herald.api.idempotency import prune
        from herald.core.worker import register_loop

        # Idempotency keys older than a day are forgotten (each worker, once an hour).
        register_loop("idempotency-keys", 3600.0)(prune)

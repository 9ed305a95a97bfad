from django.apps import AppConfig


class DialerConfig(AppConfig):
    name = "herald.dialer"
    label = "dialer"

    def ready(self) -> None:
        # Every worker sends: the dialer loop (herald.dialer.sender) claims due deliveries.
        from herald.core.worker import register_loop
        from herald.dialer import sender

        register_loop("dialer", 0.5, close=sender.dialer_close)(sender.dialer_step)

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "herald.routing"
    label = "routing"

    def ready(self) -> None:
        # Every worker sweeps the routed mailboxes each second: idle agents go offline, an
        # offline agent's unanswered conversations go back to the queue after the grace time,
        # and whatever waits while someone has room is assigned (herald.routing.actions).
        from herald.core.worker import register_loop
        from herald.routing.actions import sweep

        register_loop("routing", 1.0)(sweep)

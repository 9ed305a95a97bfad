from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "herald.routing"
    label = "routing"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from prometheus_client import REGISTRY

        from herald.core.worker import register_loop
        from herald.routing.actions import sweep
        from herald.routing.metrics import ServiceCollector

        # Every worker sweeps the routed mailboxes each second: idle agents go offline, an
        # offline agent's unanswered conversations go back to the queue after the grace time,
        # and whatever waits while someone has room is assigned (herald.routing.actions).
        register_loop("routing", 1.0)(sweep)
        user_logged_out.connect(_offline_on_logout, dispatch_uid="routing-logout")
        REGISTRY.register(ServiceCollector())


def _offline_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """An agent who logs out is offline: no more conversations are offered to them."""
    from herald.routing.actions import do_set_presence
    from herald.routing.models import Presence, PresenceStatus

    if user is not None and Presence.objects.filter(user=user).exclude(status="offline").exists():
        do_set_presence(user, PresenceStatus.OFFLINE)

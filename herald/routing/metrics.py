"""The supervisor's figures in ``/metrics``: read from the database at each scrape, so that
every process (web or worker) reports the same values."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class ServiceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        from herald.routing import queries

        queue = GaugeMetricFamily(
            "herald_queue_conversations",
            "Conversations waiting in a mailbox's queue",
            labels=["mailbox"],
        )
        oldest = GaugeMetricFamily(
            "herald_oldest_waiting_seconds",
            "How long the longest-waiting customer of a mailbox has waited for an answer",
            labels=["mailbox"],
        )
        level = GaugeMetricFamily(
            "herald_service_level_percent",
            "Share of conversations answered within the mailbox's target",
            labels=["mailbox", "period"],
        )
        available = GaugeMetricFamily(
            "herald_agents_available", "Members of a mailbox who are available", labels=["mailbox"]
        )
        load = GaugeMetricFamily(
            "herald_agent_load_conversations",
            "Open customer conversations an agent holds in a mailbox",
            labels=["mailbox", "agent"],
        )
        try:
            figures = [queries.mailbox_figures(m) for m in queries.desk_mailboxes()]
        except DatabaseError:  # no database yet (or it is down): report what we can
            logger.warning("service figures unavailable for /metrics", exc_info=True)
            return
        for m in figures:
            queue.add_metric([m.name], m.queue)
            oldest.add_metric([m.name], m.oldest_waiting_s or 0.0)
            for period, value in (("hour", m.service_level_now), ("today", m.service_level_today)):
                if value is not None:
                    level.add_metric([m.name, period], value)
            available.add_metric([m.name], m.available)
            for a in m.agents:
                load.add_metric([m.name, a.name], a.load)
        yield from (queue, oldest, level, available, load)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # described at collection: registering must not touch the database

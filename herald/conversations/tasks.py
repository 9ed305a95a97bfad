"""Background work of the agent desk: sending an answer (a task on the "mail" queue, enqueued
after commit) and the worker's ``desk`` loop (snoozes that end, answers due again)."""

from __future__ import annotations

from django_tasks import task

from herald.conversations import actions, sending


@task(queue_name="mail")
def send_desk_message(message_id: int) -> str:
    """Sends one outbound desk message; returns its new state ("sent", "deferred", ...)."""
    return sending.send(message_id)


def desk_step() -> bool:
    """One pass of the desk loop; True when more is waiting."""
    woke = actions.wake_snoozed()
    more = sending.send_due()
    return more or woke >= 500

"""Background work of contacts: imports (queue "imports") and the loop that resumes imports
whose worker died, and the optional MX check of a list's addresses."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from herald.contacts import importing, refresh
from herald.contacts.models import ImportJob, ImportStatus
from herald.core.worker import register_loop

logger = logging.getLogger(__name__)


@task(queue_name="imports")
def run_import_task(job_id: int) -> None:
    importing.run_import(job_id)


@register_loop("contacts-resume-imports", interval=2.0)
def resume_stalled_imports() -> bool:
    """Re-queues imports whose runner stopped renewing its lease (killed worker, lost machine)."""
    now = timezone.now()
    with transaction.atomic():
        stalled = list(
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(status__in=[ImportStatus.RUNNING, ImportStatus.QUEUED], lease_until__lt=now)
            .values_list("pk", flat=True)[:10]
        )
        if not stalled:
            return False
        # The lease now covers the re-queued task until it claims the job.
        ImportJob.objects.filter(pk__in=stalled).update(
            runner="", lease_until=now + timedelta(seconds=importing.lease_seconds())
        )
        for job_id in stalled:
            logger.info("resuming a stalled import", extra={"job": job_id})
            transaction.on_commit(partial(run_import_task.enqueue, job_id))
    return False


@task(queue_name="default")
def check_mx_task(contact_list_id: int) -> None:
    """Marks the addresses of a list whose domain takes no mail (DNS MX lookup, per domain)."""
    from herald.contacts import mx

    result = mx.check_list(contact_list_id)
    logger.info(
        "MX check done",
        extra={"list": contact_list_id, "domains": result.domains, "marked": result.marked},
    )


@task(queue_name="default")
def index_field_task(name: str) -> bool:
    """Builds the value index of custom field ``name`` (searched by ``name=value``)."""
    from herald.contacts import queries

    if queries.unindexed_field(f"{name}=") != name:
        return False  # not a field name we index, or indexed meanwhile
    return queries.ensure_field_index(name)


# Scheduled list refreshes: every worker takes the due ones (herald.contacts.refresh).
register_loop("contacts-refresh", interval=5.0)(refresh.step)

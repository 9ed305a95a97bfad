"""Background work of contacts: imports (queue "imports") and the loop that resumes imports
whose worker died, and the optional MX check of a list's addresses."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from herald.contacts import importing
from herald.contacts.models import Address, AddressState, ImportJob, ImportStatus
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
    from email_validator import EmailNotValidError, validate_email

    verdicts: dict[str, str] = {}
    addresses = Address.objects.filter(
        contact__memberships__contact_list_id=contact_list_id, state=AddressState.VALID
    )
    for address in addresses.iterator(chunk_size=2000):
        domain = address.email_key.rpartition("@")[2]
        if domain not in verdicts:
            try:
                validate_email(f"a@{domain}", check_deliverability=True)
                verdicts[domain] = ""
            except EmailNotValidError as exc:
                verdicts[domain] = str(exc)
        if verdicts[domain]:
            Address.objects.filter(pk=address.pk).update(
                state=AddressState.NO_MX, error=verdicts[domain][:300], checked_at=timezone.now()
            )

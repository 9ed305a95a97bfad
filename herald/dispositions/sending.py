"""Sending the emails that dispositions trigger: worker side only.

The ``dispositions`` loop of every worker takes what is due (one conditional UPDATE per email,
so two workers never send the same one; a worker that dies while sending leaves a lease that
runs out, and the email is sent again: the only duplicate there can be, as for campaigns). At
send time, in this order: the rule must still exist and be on; the address must not be
suppressed (an opt-out made after the call holds); the rule's windows must be open (else the
email waits for the next opening). The message is rendered with the contact's variables, the
call's (``disposition_code``, ``call_id``, ``call_agent``, ``call_time``) and the extra ones
the call carried, written once and kept, DKIM-signed, and sent through the rule's mailbox.
A 4xx or a network failure is retried with the dialer's backoff for ``RETRY_HOURS`` after the
first attempt (however long the email waited for its delay and windows); a 5xx or
a template that cannot be rendered fails it with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from herald.accounts.models import Account
from herald.campaigns import windows
from herald.campaigns.actions import account_zone
from herald.contacts.models import is_suppressed
from herald.contacts.queries import suppression_reason
from herald.dialer.dkim import DkimError, sign_for
from herald.dispositions.models import Disposition, DispositionState
from herald.mailboxes.smtp import SmtpError, send_message
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import Links, RenderError, render
from herald.messaging.writer import write_message

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=120)
RETRY_HOURS = 24
BATCH = 50


def due(now: dt.datetime, limit: int = BATCH) -> list[int]:
    return list(
        Disposition.objects.filter(
            Q(state__in=[DispositionState.WAITING, DispositionState.DEFERRED], due_at__lte=now)
            | Q(state=DispositionState.SENDING, lease_until__lt=now)
        )
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )


def claim(row_id: int, now: dt.datetime) -> bool:
    taken = Q(state__in=[DispositionState.WAITING, DispositionState.DEFERRED], due_at__lte=now) | Q(
        state=DispositionState.SENDING, lease_until__lt=now
    )
    return bool(
        Disposition.objects.filter(taken, pk=row_id).update(
            state=DispositionState.SENDING,
            lease_until=now + LEASE,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), now),
        )
    )


def send_due() -> bool:
    """The worker loop's step: sends every due email; True when more may be waiting."""
    ids = due(timezone.now())
    for row_id in ids:
        send(row_id)
    return len(ids) == BATCH


def _finish(row: Disposition, state: str, reason: str = "", **fields: object) -> str:
    Disposition.objects.filter(pk=row.pk).update(
        state=state, reason=reason[:1000], lease_until=None, **fields
    )
    return state


def send(row_id: int) -> str:  # noqa: PLR0911 - one return per outcome, in order
    """Sends one triggered email if it is due and nobody else has it; returns its new state."""
    now = timezone.now()
    if not claim(row_id, now):
        return "not due"
    row = Disposition.objects.select_related(
        "rule__mailbox__signature", "rule__template", "contact"
    ).get(pk=row_id)
    rule = row.rule
    if rule is None or not rule.active:
        return _finish(
            row,
            DispositionState.SKIPPED,
            "the rule for this code was removed or turned off",
            due_at=None,
        )
    entry = is_suppressed(row.email)
    if entry is not None:
        return _finish(row, DispositionState.SKIPPED, suppression_reason(entry), due_at=None)
    schedule = windows.from_json(rule.windows)
    if not windows.always_open(schedule) and not windows.is_open(schedule, now, account_zone()):
        Disposition.objects.filter(pk=row.pk).update(attempts=F("attempts") - 1)
        return _finish(
            row, DispositionState.WAITING, due_at=windows.next_open(schedule, now, account_zone())
        )
    mailbox = rule.mailbox
    try:
        raw = bytes(row.raw) if row.raw else _write(row)
        bcc = [a.lower() for a in mailbox.bcc_addresses()]
        send_message(mailbox, raw, mailbox.envelope_from, list(dict.fromkeys([row.email, *bcc])))
    except (RenderError, ValueError, DkimError) as exc:  # cannot be written: nothing to retry
        return _failed(row, str(exc), permanent=True)
    except SmtpError as exc:
        return _failed(row, str(exc), permanent=exc.permanent)
    logger.info("disposition email sent", extra={"disposition": row.pk, "code": row.code})
    return _finish(row, DispositionState.SENT, sent_at=timezone.now(), due_at=None)


def _failed(row: Disposition, words: str, *, permanent: bool) -> str:
    now = timezone.now()
    first = row.first_attempt_at or now
    give_up = first + dt.timedelta(hours=RETRY_HOURS) <= now
    logger.warning("disposition email not sent", extra={"disposition": row.pk, "error": words})
    if permanent or give_up:
        if give_up and not permanent:
            words = f"gave up after {row.attempts} attempts: {words}"
        return _finish(row, DispositionState.FAILED, words, due_at=None)
    from herald.dialer.sender import backoff  # the dialer's waits between retries

    return _finish(row, DispositionState.DEFERRED, words, due_at=now + backoff(row.attempts))


def variables_of(row: Disposition) -> dict[str, object]:
    """What the template sees: the contact's variables, the call's, then the call's extras."""
    variables = row.contact.variables()
    variables["email"] = row.email
    variables.update(
        disposition_code=row.code,
        call_id=row.call_id,
        call_agent=row.agent,
        call_time=row.called_at.astimezone(account_zone()).strftime("%Y-%m-%d %H:%M"),
    )
    variables.update(row.variables or {})
    return variables


def _write(row: Disposition) -> bytes:
    """Renders, writes and signs the message once; kept so that a retry sends the same bytes."""
    rule = row.rule
    assert rule is not None  # noqa: S101 - send() checked it
    mailbox = rule.mailbox
    version = rule.template.current_version
    if version is None:
        raise ValueError("the rule's template has no saved version")
    rendered = render(
        compiled_version(version, mailbox.signature),
        variables_of(row),
        Account.load().variables(),
        Links(),
    )
    domain = mailbox.from_address.rpartition("@")[2]
    message_id = make_msgid(domain=domain or None)
    now = timezone.now()
    raw = bytes(
        write_message(
            rendered,
            from_address=mailbox.from_address,
            from_name=mailbox.from_name,
            to=row.email,
            reply_to=mailbox.reply_to,
            message_id=message_id,
            date=now,
            headers={"X-Herald-Disposition": row.code},
        )
    )
    raw = sign_for(mailbox, raw, now)
    Disposition.objects.filter(pk=row.pk).update(
        raw=raw, message_id=message_id, subject=rendered.subject[:500]
    )
    return raw

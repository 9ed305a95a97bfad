"""The campaigns' hot database paths: the dialer's claim (with the contacts of a claimed batch),
give-back and outcome writes, the progress counts, recent events and ETA the campaign page
refreshes every few seconds, and the live recipient count of the campaign form.

The claim is one statement: ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``. On
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED``, so workers claiming at once take
disjoint rows without waiting on each other; on SQLite the write transaction is IMMEDIATE, which
serializes claims the same way. A claimed delivery is ``sending`` with ``due_at`` at the end of
its lease: if its worker dies, it is simply due again when the lease ends (nothing scans for
orphans), and the partial index ``delivery_pending`` serves both cases.

The dialer's per-batch reads and writes are raw SQL shaped for a few thousand messages a second:
a batch's contacts are two plain selects turned straight into template variables (no model
instances), and its outcomes are one statement for the deliveries and one for the events
(``UPDATE ... FROM unnest(arrays)`` and ``INSERT ... SELECT FROM unnest`` on PostgreSQL, one
prepared statement run per row by ``executemany`` on SQLite) instead of Django's
``bulk_update``, whose ``CASE WHEN id = ...`` per column and row cost ~2 ms per delivery.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count

from herald.campaigns import windows
from herald.campaigns.launch import SKIPPED_WHEN, picked_sql, suppression_joins
from herald.campaigns.models import (
    AddressChoice,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryState,
    Event,
    EventKind,
    WindowZone,
)
from herald.contacts.models import AddressState
from herald.contacts.variables import BUILTIN_VARIABLES
from herald.dialer import pacing

_PENDING = ("queued", "sending", "deferred")


@dataclass
class Claimed:
    """A delivery a worker holds: what it needs to render and send it."""

    id: int
    contact_id: int
    email: str
    tz: str
    attempts: int
    first_attempt_at: dt.datetime | None


_CLAIM = """
    UPDATE campaigns_delivery SET state = 'sending', due_at = %s
    WHERE id IN (
        SELECT id FROM campaigns_delivery
        WHERE campaign_id = %s AND state IN ('queued', 'sending', 'deferred') AND due_at <= %s
        {running}
        ORDER BY due_at LIMIT %s{lock}
    )
    RETURNING id, contact_id, email, tz, attempts, first_attempt_at
"""
# The dialer claims only for a running, enabled campaign: a pause stops its next chunk, and the
# check costs no query of its own.
_RUNNING = """AND EXISTS (
            SELECT 1 FROM campaigns_campaign c
            WHERE c.id = %s AND c.status = 'running' AND c.enabled
        )"""


def _claim_transaction() -> AbstractContextManager[object]:
    # The claim is one statement, a transaction of its own on PostgreSQL (no extra round trip
    # for COMMIT). SQLite wraps it in a transaction to take the write lock first (IMMEDIATE):
    # a statement that reads before it writes could otherwise fail on a concurrent writer.
    if connection.vendor == "postgresql":
        return nullcontext()
    return transaction.atomic()


def _claim_sql(running_only: bool) -> str:
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    return _CLAIM.format(running=_RUNNING if running_only else "", lock=lock)


def _claim_params(
    campaign_id: int, count: int, now: dt.datetime, lease_until: dt.datetime, running_only: bool
) -> list[Any]:
    adapt = connection.ops.adapt_datetimefield_value
    running = [campaign_id] if running_only else []
    return [adapt(lease_until), campaign_id, adapt(now), *running, count]


def claim(
    campaign_id: int,
    count: int,
    now: dt.datetime,
    lease_until: dt.datetime,
    *,
    running_only: bool = False,
) -> list[Claimed]:
    """Claims up to ``count`` due deliveries of a campaign, oldest due first (none unless the
    campaign is running and enabled, with ``running_only``)."""
    with _claim_transaction(), connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(running_only),
            _claim_params(campaign_id, count, now, lease_until, running_only),
        )
        rows = cursor.fetchall()
    claimed = []
    for ident, contact_id, email, tz, attempts, first in rows:
        claimed.append(Claimed(ident, contact_id, email, tz, attempts, _aware(first)))
    claimed.sort(key=lambda c: c.id)
    return claimed


def claim_recipients(
    campaign_id: int, count: int, now: dt.datetime, lease_until: dt.datetime
) -> list[tuple[Claimed, dict[str, object] | None]]:
    """The dialer's claim: ``claim(..., running_only=True)``, each delivery with its contact's
    template variables (``contact_variables``; None when the contact was deleted).

    On PostgreSQL one statement claims and reads the contacts and their addresses (the claim in
    a data-modifying ``WITH``): one round trip for the batch instead of three.
    """
    if connection.vendor != "postgresql":
        held = claim(campaign_id, count, now, lease_until, running_only=True)
        contacts = contact_variables(c.contact_id for c in held)
        return [(c, contacts.get(c.contact_id)) for c in held]
    sql = f"""
        WITH claimed AS ({_claim_sql(True)})
        SELECT claimed.*, c.id, c.first_name, c.last_name, c.company, c.language, c.timezone,
            c.external_id, c.fields, (
                SELECT json_agg(json_build_array(a.position, a.email, a.state))
                FROM contacts_address a WHERE a.contact_id = claimed.contact_id
            )
        FROM claimed LEFT JOIN contacts_contact c ON c.id = claimed.contact_id
        ORDER BY claimed.id
    """  # noqa: S608 - only fixed fragments are formatted in
    with _claim_transaction(), connection.cursor() as cursor:
        cursor.execute(sql, _claim_params(campaign_id, count, now, lease_until, True))
        rows = cursor.fetchall()
    found: list[tuple[Claimed, dict[str, object] | None]] = []
    for row in rows:
        ident, contact_id, email, tz, attempts, first, found_id, *person, addresses = row
        claimed = Claimed(ident, contact_id, email, tz, attempts, _aware(first))
        if found_id is None:
            found.append((claimed, None))
            continue
        if isinstance(addresses, str):
            addresses = json.loads(addresses)
        own = {
            position: (address, state == AddressState.VALID)
            for position, address, state in addresses or ()
        }
        found.append((claimed, _variables(person, own)))
    return found


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite's raw RETURNING skips Django's converters
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _id_list(ids: Iterable[int]) -> str:
    # Integers only (our own row ids): one literal list instead of thousands of parameters.
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def contact_variables(contact_ids: Iterable[int]) -> dict[int, dict[str, object]]:
    """The template variables of each of these contacts (``Contact.variables()``: custom fields,
    then the built-in ones), read with two plain selects: a batch of a few hundred contacts
    costs two queries and no model instances. Deleted contacts are absent."""
    ids = _id_list(set(contact_ids))
    addresses: dict[int, dict[int, tuple[str, bool]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_id, position, email, state FROM contacts_address "  # noqa: S608
            f"WHERE contact_id IN ({ids})"
        )
        for contact_id, position, email, state in cursor.fetchall():
            addresses.setdefault(contact_id, {})[position] = (email, state == AddressState.VALID)
        cursor.execute(
            "SELECT id, first_name, last_name, company, language, timezone, external_id, "  # noqa: S608
            f"fields FROM contacts_contact WHERE id IN ({ids})"
        )
        rows = cursor.fetchall()
    found: dict[int, dict[str, object]] = {}
    for ident, *person in rows:
        found[ident] = _variables(person, addresses.get(ident, {}))
    return found


_BUILTIN = frozenset(BUILTIN_VARIABLES)


def _variables(row: Sequence[Any], addresses: dict[int, tuple[str, bool]]) -> dict[str, object]:
    """``Contact.variables()`` from a contact's columns (first and last name, company, language,
    time zone, external id, fields) and its addresses by position ((email, valid)): custom
    fields first, then the built-in variables."""
    first_name, last_name, company, language, tz, external_id, fields = row
    if isinstance(fields, str | bytes):  # JSON text: SQLite, and Django's psycopg loader
        fields = json.loads(fields)
    variables: dict[str, object] = {
        name: value for name, value in (fields or {}).items() if name not in _BUILTIN
    }
    variables.update(
        first_name=first_name,
        last_name=last_name,
        company=company,
        email=next((addresses[p][0] for p in sorted(addresses) if addresses[p][1]), ""),
        email1=addresses[1][0] if 1 in addresses else "",
        email2=addresses[2][0] if 2 in addresses else "",
        email3=addresses[3][0] if 3 in addresses else "",
        language=language,
        timezone=tz,
        external_id=external_id or "",
    )
    return variables


@dataclass(frozen=True, slots=True)
class Attempt:
    """A claimed delivery's new state after its attempt (or after failing to render), and the
    event that records it."""

    id: int
    state: str
    reason: str
    due_at: dt.datetime | None
    attempts: int
    first_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    code: int | None
    reply: str
    kind: str  # the event's kind
    detail: str  # the event's detail
    data: dict[str, Any] | None = None  # the event's data


def write_attempts(campaign_id: int, attempts: Sequence[Attempt], at: dt.datetime) -> None:
    """Writes each delivery's new state and one event each (at ``at``), in one transaction
    (the caller's, if any): a few statements for the whole batch, one when every message was
    sent on its first attempt (PostgreSQL)."""
    if not attempts:
        return
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            _write_attempts_sqlite(cursor, campaign_id, attempts, at)
        return
    sent: dict[int | None, list[Attempt]] = {}
    rest: list[Attempt] = []
    for a in attempts:
        if (
            a.kind == "sent"
            and a.state == DeliveryState.SENT
            and a.sent_at == at
            and a.first_attempt_at == at
            and a.due_at is None
            and not a.reason
            and a.data is None
        ):
            sent.setdefault(a.code, []).append(a)
        else:
            rest.append(a)
    # One statement is a transaction of its own: no BEGIN and COMMIT round trips for it.
    alone = len(sent) == 1 and not rest
    with (
        nullcontext() if alone else transaction.atomic(savepoint=False),
        connection.cursor() as cursor,
    ):
        for code, group in sent.items():
            _write_first_sends_postgresql(cursor, campaign_id, code, group, at)
        if rest:
            _write_attempts_postgresql(cursor, campaign_id, rest, at)


# A row already written by this very attempt is left alone (and gets no second event): when the
# connection drops while a write commits, the dialer cannot know whether it did, and writes again
# (``Dialer._record``). Written means: the attempt counted (sent, deferred, failed after trying),
# or, for a delivery that ends untried (skipped, unrenderable), no longer held.
_NOT_WRITTEN = "(d.attempts < v.attempts OR d.state = 'sending')"


def _write_first_sends_postgresql(
    cursor: Any, campaign_id: int, code: int | None, group: Sequence[Attempt], at: dt.datetime
) -> None:
    # Arrays as parameters, one per column: the statement stays the same size whatever the
    # batch, and the server joins them to the rows by primary key. Building an array of 500
    # timestamps or texts costs the client about a millisecond, so messages sent on their first
    # attempt (nearly every row) go by this lean statement, whose constant columns are plain
    # parameters and which writes their events in the same round trip.
    cursor.execute(
        f"""
        WITH v AS (
            SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::text[])
                AS v(id, attempts, reply, detail)
        ), updated AS (
            UPDATE campaigns_delivery d SET state = 'sent', reason = '', due_at = NULL,
                attempts = v.attempts, first_attempt_at = %s, sent_at = %s, code = %s,
                reply = v.reply
            FROM v WHERE d.id = v.id AND {_NOT_WRITTEN}
            RETURNING d.id
        )
        INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, code, detail, data)
        SELECT %s, v.id, 'sent', %s, %s, v.detail, NULL FROM v JOIN updated USING (id)
        """,  # noqa: S608 - only a fixed fragment is formatted in
        [
            [a.id for a in group],
            [a.attempts for a in group],
            [a.reply for a in group],
            [a.detail for a in group],
            at,
            at,
            code,
            campaign_id,
            at,
            code,
        ],
    )


def _write_attempts_postgresql(
    cursor: Any, campaign_id: int, attempts: Sequence[Attempt], at: dt.datetime
) -> None:
    # Every column an array: retries, deferrals, failures (the few rows that are not first
    # sends).
    cursor.execute(
        f"""
        UPDATE campaigns_delivery d SET state = v.state, reason = v.reason, due_at = v.due_at,
            attempts = v.attempts, first_attempt_at = v.first_attempt_at, sent_at = v.sent_at,
            code = v.code, reply = v.reply
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::int[],
            %s::timestamptz[], %s::timestamptz[], %s::int[], %s::text[])
            AS v(id, state, reason, due_at, attempts, first_attempt_at, sent_at, code, reply)
        WHERE d.id = v.id AND {_NOT_WRITTEN}
        RETURNING d.id
        """,  # noqa: S608 - only a fixed fragment is formatted in
        [
            [a.id for a in attempts],
            [a.state for a in attempts],
            [a.reason for a in attempts],
            [a.due_at for a in attempts],
            [a.attempts for a in attempts],
            [a.first_attempt_at for a in attempts],
            [a.sent_at for a in attempts],
            [a.code for a in attempts],
            [a.reply for a in attempts],
        ],
    )
    written = {row[0] for row in cursor.fetchall()}
    attempts = [a for a in attempts if a.id in written]
    if not attempts:
        return
    cursor.execute(
        """
        INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, code, detail, data)
        SELECT %s, v.delivery_id, v.kind, %s, v.code, v.detail, v.data::jsonb
        FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[])
            AS v(delivery_id, kind, code, detail, data)
        """,
        [
            campaign_id,
            at,
            [a.id for a in attempts],
            [a.kind for a in attempts],
            [a.code for a in attempts],
            [a.detail for a in attempts],
            [None if a.data is None else json.dumps(a.data) for a in attempts],
        ],
    )


def _write_attempts_sqlite(
    cursor: Any, campaign_id: int, attempts: Sequence[Attempt], at: dt.datetime
) -> None:
    # executemany runs one prepared statement per row inside SQLite: a few microseconds each.
    # The rows this attempt already wrote (see _NOT_WRITTEN) are read first, in the same
    # transaction: executemany cannot say which rows an UPDATE changed.
    ids = _id_list(a.id for a in attempts)
    cursor.execute(f"SELECT id, attempts, state FROM campaigns_delivery WHERE id IN ({ids})")  # noqa: S608 - integers only
    now_in = {ident: (tried, state) for ident, tried, state in cursor.fetchall()}
    attempts = [
        a
        for a in attempts
        if a.id in now_in and (now_in[a.id][0] < a.attempts or now_in[a.id][1] == "sending")
    ]
    adapt = connection.ops.adapt_datetimefield_value
    stamp = adapt(at)
    cursor.executemany(
        """
        UPDATE campaigns_delivery SET state = %s, reason = %s, due_at = %s, attempts = %s,
            first_attempt_at = %s, sent_at = %s, code = %s, reply = %s
        WHERE id = %s
        """,
        [
            (
                a.state,
                a.reason,
                adapt(a.due_at),
                a.attempts,
                stamp if a.first_attempt_at is at else adapt(a.first_attempt_at),
                stamp if a.sent_at is at else adapt(a.sent_at),
                a.code,
                a.reply,
                a.id,
            )
            for a in attempts
        ],
    )
    cursor.executemany(
        """
        INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, code, detail, data)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        [
            (
                campaign_id,
                a.id,
                a.kind,
                stamp,
                a.code,
                a.detail,
                None if a.data is None else json.dumps(a.data),
            )
            for a in attempts
        ],
    )


def campaign_status(campaign_id: int) -> str | None:
    """A campaign's status, read plainly (the dialer asks once per batch)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM campaigns_campaign WHERE id = %s", [campaign_id])
        row = cursor.fetchone()
    return row[0] if row else None


def renew(delivery_ids: Sequence[int], lease_until: dt.datetime) -> int:
    """Extends the lease of deliveries a worker still holds (claimed, not yet recorded) to
    ``lease_until``, so that no other worker takes them while they are on the wire; returns how
    many were still held."""
    if not delivery_ids:
        return 0
    return Delivery.objects.filter(id__in=delivery_ids, state=DeliveryState.SENDING).update(
        due_at=lease_until
    )


def release(deliveries: list[Claimed], due_at: dt.datetime) -> None:
    """Gives claimed deliveries back, due again at ``due_at`` (not their turn yet: pacing, a
    closed window, a paused campaign). They keep their state's meaning: tried before, deferred."""
    if not deliveries:
        return
    tried = [d.id for d in deliveries if d.attempts]
    fresh = [d.id for d in deliveries if not d.attempts]
    with transaction.atomic():
        if fresh:
            Delivery.objects.filter(id__in=fresh, state=DeliveryState.SENDING).update(
                state=DeliveryState.QUEUED, due_at=due_at
            )
        if tried:
            Delivery.objects.filter(id__in=tried, state=DeliveryState.SENDING).update(
                state=DeliveryState.DEFERRED, due_at=due_at
            )


def progress(campaign_id: int) -> dict[str, int]:
    """Deliveries by state (every state present, zeros included) and their total."""
    counts = Counter(dict.fromkeys(DeliveryState.values, 0))
    for row in (
        Delivery.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
    ):
        counts[row["state"]] = row["n"]
    result = dict(counts)
    result["total"] = sum(counts.values())
    result["to_send"] = counts["queued"] + counts["sending"] + counts["deferred"]
    return result


def skipped_reasons(campaign_id: int, limit: int = 20) -> list[tuple[str, int]]:
    """Why deliveries were skipped, most frequent first ("suppressed: unsubscribed", ...)."""
    rows = (
        Delivery.objects.filter(campaign_id=campaign_id, state=DeliveryState.SKIPPED)
        .order_by()
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:limit]
    )
    return [(row["reason"], row["n"]) for row in rows]


@dataclass(frozen=True)
class RecipientCount:
    """What a launch on some lists would write: de-duplicated addresses, and among them the
    ones it would skip (suppressed, invalid)."""

    addresses: int
    suppressed: int
    invalid: int

    @property
    def to_send(self) -> int:
        return self.addresses - self.suppressed - self.invalid


def recipient_count(list_ids: Iterable[int], addresses: str) -> RecipientCount:
    """The form's live count for the chosen lists and address choice. It runs the launch's own
    selection (``launch.picked_sql``) and only counts, so a million-member list costs one
    aggregate over the same index-driven plan, without writing a row."""
    ids = [int(i) for i in list_ids]
    if not ids:
        return RecipientCount(0, 0, 0)
    choice = addresses if addresses in AddressChoice.values else AddressChoice.FIRST_VALID
    sql = f"""
        SELECT COUNT(*),
            COALESCE(SUM(CASE WHEN ({SKIPPED_WHEN}) AND a.state = %(valid)s THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN a.state <> %(valid)s THEN 1 ELSE 0 END), 0)
        FROM contacts_address a
        JOIN ({picked_sql(ids, choice)}) picked ON picked.id = a.id
        {suppression_joins()}
    """  # noqa: S608 - only integer ids and fixed fragments are formatted
    with connection.cursor() as cursor:
        cursor.execute(sql, {"valid": AddressState.VALID})
        total, suppressed, invalid = cursor.fetchone()
    return RecipientCount(int(total), int(suppressed), int(invalid))


def recent_events(campaign_id: int, limit: int = 50) -> list[Event]:
    """The campaign's latest events, newest first.

    One query per kind, each reading the newest ``limit`` rows backwards on the
    ``(campaign, kind, at)`` index: a million-recipient campaign has millions of events, and
    ordering them all by time on every refresh of the page would sort them all.
    """
    rows: list[Event] = []
    for kind in EventKind.values:
        rows.extend(
            Event.objects.filter(campaign_id=campaign_id, kind=kind)
            .select_related("delivery")
            .order_by("-at", "-id")[:limit]
        )
    rows.sort(key=lambda e: (e.at, e.pk), reverse=True)
    return rows[:limit]


def _sent_since(campaign_id: int, since: dt.datetime) -> int:
    # The (campaign, kind, at) index: a range scan of this campaign's recent sends only.
    return Event.objects.filter(campaign_id=campaign_id, kind=EventKind.SENT, at__gte=since).count()


PACE_SAMPLE = dt.timedelta(minutes=1)  # an unpaced campaign's pace: its sends of the last minute


def configured_pace(campaign: Campaign, now: dt.datetime) -> tuple[float | None, int | None]:
    """The steady messages per second the campaign's and its mailbox's limits allow now, and
    the daily cap (``None``: not limited). Caps other than daily count by their long-run rate;
    the mailbox's limits are shared with its other campaigns, so this is an upper bound."""
    since_us = int((campaign.warmup_since or now).timestamp() * pacing.US)
    now_us = int(now.timestamp() * pacing.US)
    mailbox = campaign.mailbox
    limits = [
        *pacing.campaign_limits(
            rate_count=campaign.rate_count,
            rate_unit=campaign.rate_unit,
            wait_seconds=campaign.wait_seconds,
            warmup_per_hour=campaign.warmup_per_hour,
            warmup_growth_percent=campaign.warmup_growth_percent,
            warmup_since_us=since_us,
        ),
        *pacing.mailbox_limits(per_second=mailbox.max_per_second, per_hour=mailbox.max_per_hour),
    ]
    rates = [limit.count_at(now_us) * pacing.US / limit.period_us for limit in limits]
    caps = [c for c in (campaign.daily_cap, mailbox.max_per_day) if c]
    return (min(rates) if rates else None), (min(caps) if caps else None)


@dataclass(frozen=True)
class Outlook:
    """What the campaign page says about when a campaign ends.

    ``state``: ``draft``, ``scheduled`` (``starts_at``), ``paused``, ``waiting`` (for the send
    window, which opens at ``opens_at``), ``sending``, ``finishing`` (nothing left to send, the
    last answers awaited), or ``finished``. ``eta``: when the last message should go (None:
    unknown, e.g. an unpaced campaign that has sent nothing yet).
    """

    state: str
    eta: dt.datetime | None = None
    starts_at: dt.datetime | None = None
    opens_at: dt.datetime | None = None
    per_second: float | None = None


def _eta(
    remaining: int,
    per_second: float,
    schedule: windows.Schedule,
    zone: dt.tzinfo,
    now: dt.datetime,
    *,
    daily_cap: int | None,
    sent_today: int,
) -> dt.datetime | None:
    estimate = getattr(windows, "eta", None)
    if estimate is not None:  # the schedule arithmetic: windows, daily cap, DST
        try:
            return estimate(
                remaining,
                per_second,
                schedule,
                zone,
                now,
                daily_cap=daily_cap,
                sent_today=sent_today,
            )
        except ValueError:
            return None
    # Without it: the remaining messages at the pace, from the next open moment.
    start = windows.next_open(schedule, now, zone)
    return start + dt.timedelta(seconds=remaining / per_second)


def outlook(campaign: Campaign, counts: dict[str, int], now: dt.datetime) -> Outlook:
    """When ``campaign`` (with its ``progress`` counts) should finish, in the words of its state.

    The pace is the configured one (campaign and mailbox limits), or for an unpaced campaign
    the pace of its last minute. Windows follow the account's time zone; with windows in each
    contact's own zone the estimate reads them in the account's.
    """
    status = campaign.status
    if status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        return Outlook("finished")
    if status == CampaignStatus.DRAFT:
        return Outlook("draft")
    if status == CampaignStatus.SCHEDULED:
        return Outlook("scheduled", starts_at=campaign.next_run_at)
    if status == CampaignStatus.PAUSED:
        return Outlook("paused")
    remaining = counts.get("to_send", 0)
    if remaining == 0:
        return Outlook("finishing")
    from herald.campaigns.actions import account_zone

    zone = account_zone()
    schedule = windows.from_json(campaign.windows or [])
    per_second, daily_cap = configured_pace(campaign, now)
    sent_today = 0
    if daily_cap:
        midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_today = _sent_since(campaign.pk, midnight)
    if per_second is None:
        recent = _sent_since(campaign.pk, now - PACE_SAMPLE)
        per_second = recent / PACE_SAMPLE.total_seconds() if recent else None
    opens_at = None
    if (
        schedule.windows
        and campaign.window_zone == WindowZone.ACCOUNT
        and not windows.is_open(schedule, now, zone)
    ):
        opens_at = windows.next_open(schedule, now, zone)
    eta = None
    if per_second is not None:
        eta = _eta(
            remaining,
            per_second,
            schedule,
            zone,
            now,
            daily_cap=daily_cap,
            sent_today=sent_today,
        )
    return Outlook(
        "waiting" if opens_at else "sending", eta=eta, opens_at=opens_at, per_second=per_second
    )


def summary(campaign: Campaign, now: dt.datetime) -> dict[str, object]:
    """A campaign's status and progress as JSON data (``herald campaign status --json`` and the
    API): counts by state, skip reasons, and when it should finish."""
    counts = progress(campaign.pk)
    ahead = outlook(campaign, counts, now)
    return {
        "name": campaign.name,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "counts": counts,
        "skipped_reasons": dict(skipped_reasons(campaign.pk)),
        "outlook": ahead.state,
        "eta": ahead.eta.isoformat() if ahead.eta else None,
        "starts_at": ahead.starts_at.isoformat() if ahead.starts_at else None,
        "window_opens_at": ahead.opens_at.isoformat() if ahead.opens_at else None,
    }

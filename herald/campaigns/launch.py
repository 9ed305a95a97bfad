"""Launching a campaign run: one Delivery row per recipient address, in one SQL statement.

A million recipients must launch in seconds, so the rows are never loaded into Python: one
``INSERT ... SELECT`` picks the addresses of the campaign's lists, de-duplicates them (one email
per address per run, across lists and contacts: the lowest address id wins), and marks the
ones that must not be sent as skipped with their reason (suppressed address or domain, invalid
address). A contact with no address at all gets no row: there is nothing to send to or to skip
(imports and the API refuse such contacts). A second statement writes the skipped events. Both
run inside the caller's transaction, so a launch is all or nothing.

The same SQL runs on SQLite and PostgreSQL except for taking an address's domain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from herald.campaigns.models import AddressChoice, Campaign, WindowZone
from herald.contacts.models import AddressState

# Which addresses of a contact take part. "first valid": the valid address with the lowest
# position; a contact with no valid address still gets one row (its first address, skipped as
# invalid), so that the manager sees why that contact got nothing.
_CHOICE = {
    AddressChoice.FIRST: "a.position = 1",
    AddressChoice.ALL: "1 = 1",
    AddressChoice.FIRST_VALID: """NOT EXISTS (
        SELECT 1 FROM contacts_address b
        WHERE b.contact_id = a.contact_id AND b.id <> a.id AND (
            (b.state = %(valid)s AND a.state <> %(valid)s)
            OR (b.position < a.position AND (b.state = %(valid)s) = (a.state = %(valid)s))
        )
    )""",
}


@dataclass(frozen=True)
class Launched:
    total: int
    queued: int
    skipped: int


def _domain(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"split_part({column}, '@', 2)"
    return f"substr({column}, instr({column}, '@') + 1)"


def picked_sql(list_ids: list[int], addresses: str) -> str:
    """The ids of the addresses a campaign on ``list_ids`` sends to, one per email (the lowest
    id wins), as a subquery. The launch and the form's live recipient count share it, so that
    the count is what a launch would write. Only integer ids and fixed fragments are formatted
    into the SQL; the address state it compares takes the ``%(valid)s`` parameter."""
    lists = ", ".join(str(int(i)) for i in list_ids)
    return f"""
            SELECT MIN(a.id) AS id FROM contacts_address a
            WHERE a.contact_id IN (
                SELECT contact_id FROM contacts_listmember WHERE contact_list_id IN ({lists})
            ) AND {_CHOICE[AddressChoice(addresses)]}
            GROUP BY a.email_key
        """  # noqa: S608


def suppression_joins() -> str:
    """Joins the picked address ``a`` to its suppression ``s`` (the address) and ``d`` (its
    domain), for ``SKIPPED_WHEN`` and the skip reason."""
    return f"""LEFT JOIN contacts_suppression s ON s.value = a.email_key AND NOT s.is_domain
        LEFT JOIN contacts_suppression d ON d.value = {_domain("a.email_key")} AND d.is_domain"""


# A picked address that is not sent: invalid, or suppressed (itself or its domain).
SKIPPED_WHEN = "a.state <> %(valid)s OR s.reason IS NOT NULL OR d.reason IS NOT NULL"


def insert_deliveries(campaign: Campaign, run: int, now: dt.datetime) -> Launched:
    """Writes the deliveries of ``run`` of ``campaign`` (queued ones due ``now``)."""
    list_ids = list(campaign.lists.values_list("id", flat=True))
    if not list_ids:
        return Launched(0, 0, 0)
    params = {
        "campaign": campaign.pk,
        "run": run,
        "now": connection.ops.adapt_datetimefield_value(now),
        "valid": AddressState.VALID,
        "contact_tz": campaign.window_zone == WindowZone.CONTACT,
    }
    # Suppression reasons read as the skip reason: "suppressed: unsubscribed".
    # Only integer ids and fixed fragments are formatted into the SQL.
    sql = f"""
        INSERT INTO campaigns_delivery
            (campaign_id, run, contact_id, email, tz, state, reason, due_at, attempts, reply)
        SELECT %(campaign)s, %(run)s, a.contact_id, a.email,
            CASE WHEN %(contact_tz)s THEN c.timezone ELSE '' END,
            CASE WHEN {SKIPPED_WHEN} THEN 'skipped' ELSE 'queued' END,
            CASE WHEN a.state <> %(valid)s THEN 'invalid address: ' || a.error
                WHEN s.reason IS NOT NULL THEN 'suppressed: ' || s.reason
                WHEN d.reason IS NOT NULL THEN 'suppressed domain: ' || d.reason
                ELSE '' END,
            CASE WHEN {SKIPPED_WHEN} THEN NULL ELSE %(now)s END,
            0, ''
        FROM contacts_address a
        JOIN ({picked_sql(list_ids, campaign.addresses)}) picked ON picked.id = a.id
        JOIN contacts_contact c ON c.id = a.contact_id
        {suppression_joins()}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        total = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO campaigns_event (campaign_id, delivery_id, kind, at, detail, data)
            SELECT campaign_id, id, 'skipped', %(now)s, reason, NULL FROM campaigns_delivery
            WHERE campaign_id = %(campaign)s AND run = %(run)s AND state = 'skipped'
            """,
            params,
        )
        skipped = cursor.rowcount
    return Launched(total, total - skipped, skipped)

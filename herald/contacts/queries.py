"""The reads that matter: suppression checks for many addresses at once, and contact search.

Both run against tables of millions of rows, so each is shaped to use one index range scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from herald.contacts.addresses import domain_of
from herald.contacts.models import Address, Contact, Suppression

IN_CHUNK = 5000  # values per IN (...) list: well under SQLite's 32,766 bound variables


def select_in(select: str, column: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``select WHERE column IN values`` (``select`` may end with its own ``... AND``)."""
    found: list[tuple[Any, ...]] = []
    if not values:
        return found
    glue = " " if select.rstrip().upper().endswith("AND") else " WHERE "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Strings travel as one text split by the server: psycopg adapts a list of 10,000
            # strings to an array slower than PostgreSQL answers the query.
            joined = "\n".join(values) if all(type(v) is str for v in values) else None
            if joined is not None and joined.count("\n") == len(values) - 1:
                cursor.execute(
                    f"{select}{glue}{column} = ANY(string_to_array(%s, E'\\n'))", [joined]
                )
            else:
                cursor.execute(f"{select}{glue}{column} = ANY(%s)", [list(values)])
            return cursor.fetchall()
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(f"{select}{glue}{column} IN ({marks})", chunk)
            found.extend(cursor.fetchall())
    return found


def suppressions_for(emails: Iterable[str]) -> dict[str, Suppression]:
    """For each suppressed address of ``emails``, the entry that suppresses it (lower-case key).

    One query per 5,000 values on the unique index of ``Suppression.value``: the addresses and
    their domains are looked up together; an address entry wins over a domain entry. Nearly all
    addresses are not suppressed, so only the hits become model instances.
    """
    keys = list(dict.fromkeys(e.strip().lower() for e in emails if e))
    domains = {domain_of(k) for k in keys} - {""}
    hits = [
        v
        for (v,) in select_in("SELECT value FROM contacts_suppression", "value", [*keys, *domains])
    ]
    if not hits:
        return {}
    entries = {s.value: s for s in Suppression.objects.filter(value__in=hits)}
    found: dict[str, Suppression] = {}
    for k in keys:
        entry = entries.get(k)
        if entry is None:
            domain_entry = entries.get(domain_of(k))
            if domain_entry is not None and domain_entry.is_domain:
                entry = domain_entry
        if entry is not None:
            found[k] = entry
    return found


def prefix(field: str, text: str) -> Q:
    """``field`` starts with ``text`` (already lower case), in the form the index can serve.

    PostgreSQL: LIKE 'text%' on a varchar_pattern_ops index. SQLite: its LIKE is case-insensitive
    and skips a BINARY index, so the prefix becomes the range [text, text + U+10FFFF).
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": text})
    return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})


def search_contacts(text: str, limit: int = 50) -> QuerySet[Contact]:
    """Contacts whose address, first or last name, or external id starts with ``text``, or,
    for ``name=value``, whose custom field ``name`` equals ``value``.

    Each branch is an index range scan (see migration 0002); the union of ids is small because
    it is cut at ``limit`` per branch before the contacts are fetched.
    """
    text = text.strip()
    contacts = Contact.objects.all()
    if not text:
        return contacts.order_by("-id")[:limit]
    field, eq, value = text.partition("=")
    if eq and field.strip() and " " not in field.strip():
        # A field-value search: a JSON lookup, filtered by the key on both databases.
        return contacts.filter(**{f"fields__{field.strip()}": value.strip()}).order_by("id")[:limit]
    lower = text.lower()
    ids: set[int] = set()
    ids.update(
        Address.objects.filter(prefix("email_key", lower))
        .order_by("email_key")
        .values_list("contact_id", flat=True)[:limit]
    )
    ids.update(
        Contact.objects.filter(prefix("external_id", text))
        .order_by("external_id")
        .values_list("id", flat=True)[:limit]
    )
    first, _, last = lower.partition(" ")
    from django.db.models.functions import Lower

    names = Contact.objects.annotate(first_key=Lower("first_name"), last_key=Lower("last_name"))
    if last:
        ids.update(
            names.filter(prefix("first_key", first) & prefix("last_key", last)).values_list(
                "id", flat=True
            )[:limit]
        )
    else:
        for key in ("first_key", "last_key"):
            ids.update(
                names.filter(prefix(key, lower)).order_by(key).values_list("id", flat=True)[:limit]
            )
    return Contact.objects.filter(id__in=ids).order_by("last_name", "first_name", "id")[:limit]

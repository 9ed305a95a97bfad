"""The reads that matter: suppression checks for many addresses at once, and contact search.

Both run against tables of millions of rows, so each is shaped to use one index range scan.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from herald.contacts.addresses import domain_of, hashed
from herald.contacts.models import Address, Contact, ImportJob, Suppression, field_name

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
            # Every caller looks up an indexed column. For thousands of values the planner
            # prices the index probes (as disk reads) above a parallel scan of the whole table:
            # during an import that scan, on both cores, grew with every batch (80 ms for 10,000
            # keys among 300,000 rows, against 15 ms by the index).
            cursor.execute("SET enable_seqscan = off")
            try:
                if joined is not None and joined.count("\n") == len(values) - 1:
                    cursor.execute(
                        f"{select}{glue}{column} = ANY(string_to_array(%s, E'\\n'))", [joined]
                    )
                else:
                    cursor.execute(f"{select}{glue}{column} = ANY(%s)", [list(values)])
                return cursor.fetchall()
            finally:
                # After an error inside a transaction the rollback undoes the SET anyway.
                with contextlib.suppress(DatabaseError):
                    cursor.execute("RESET enable_seqscan")
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(f"{select}{glue}{column} IN ({marks})", chunk)
            found.extend(cursor.fetchall())
    return found


def suppressions_for(emails: Iterable[str]) -> dict[str, Suppression]:
    """For each suppressed address of ``emails``, the entry that suppresses it (lower-case key).

    One query per 5,000 values on the unique index of ``Suppression.value``: the addresses,
    their hashes (an erased contact's, ``herald.contacts.erasure``) and their domains are looked
    up together; an address entry wins over a domain entry. Nearly all
    addresses are not suppressed, so only the hits become model instances.
    """
    keys = list(dict.fromkeys(e.strip().lower() for e in emails if e))
    domains = {domain_of(k) for k in keys} - {""}
    hashes = {k: hashed(k) for k in keys}  # an erased contact's addresses (contacts.erasure)
    values = [*keys, *domains, *hashes.values()]
    hits = [v for (v,) in select_in("SELECT value FROM contacts_suppression", "value", values)]
    if not hits:
        return {}
    entries = {s.value: s for s in Suppression.objects.filter(value__in=hits)}
    found: dict[str, Suppression] = {}
    for k in keys:
        entry = entries.get(k) or entries.get(hashes[k])
        if entry is None:
            domain_entry = entries.get(domain_of(k))
            if domain_entry is not None and domain_entry.is_domain:
                entry = domain_entry
        if entry is not None:
            found[k] = entry
    return found


def suppression_reason(entry: Suppression) -> str:
    """A skipped delivery's reason, as the launch writes it: "suppressed: unsubscribed"."""
    if entry.is_domain:
        return f"suppressed domain: {entry.reason}"
    return f"suppressed: {entry.reason}"


def prefix(field: str, text: str) -> Q:
    """``field`` starts with ``text`` (already lower case), in the form the index can serve.

    PostgreSQL: LIKE 'text%' on a varchar_pattern_ops index. SQLite: its LIKE is case-insensitive
    and skips a BINARY index, so the prefix becomes the range [text, text + U+10FFFF).
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": text})
    return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})


# -- field values ---------------------------------------------------------------------------------
#
# "name=value" finds contacts by a custom field. The fields live in one JSON column, so an index
# is an expression index per field name: PostgreSQL ((fields ->> 'name')), SQLite
# (json_extract(fields, '$."name"')), created for the columns an import maps to "field:key".
# Why not the alternatives: a ContactField(contact, name, value) table indexed on (name, value)
# would write five more rows per imported row of a file with five custom columns, and a GIN
# index on the JSON (PostgreSQL only) would index every value of every row; either alone costs
# more than the import's whole budget. An expression index costs one index insert per row for
# the fields people actually search by (customer numbers, contract codes), nothing for the rest.
# A field without an index is still searched, by scanning (slow on a million contacts).

FIELD_INDEX_PREFIX = "contact_field_"
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def _field_expression(name: str) -> str:
    """The SQL expression of field ``name``, exactly as the index declares it (a literal path:
    SQLite uses an expression index only for the same literal expression)."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a field name: {name!r}")
    if connection.vendor == "postgresql":
        return f"(fields ->> '{name}')"
    return f"json_extract(fields, '$.\"{name}\"')"


def indexed_fields() -> set[str]:
    """The field names that have a value index."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts_contact' "
                "AND indexname LIKE %s",
                [FIELD_INDEX_PREFIX + "%"],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'contacts_contact' AND name LIKE %s",
                [FIELD_INDEX_PREFIX + "%"],
            )
        return {name.removeprefix(FIELD_INDEX_PREFIX) for (name,) in cursor.fetchall()}


def ensure_field_index(name: str) -> bool:
    """Creates the value index of field ``name`` unless it exists; True if it was created."""
    if name in indexed_fields():
        return False
    expression = _field_expression(name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {FIELD_INDEX_PREFIX}{name} "
            f"ON contacts_contact ({expression})"
        )
    return True


def unindexed_field(text: str) -> str | None:
    """For a ``name=value`` search on a field that has no value index yet, the field's name.

    The search page then has the worker build that index (``index_field_task``): the first such
    search scans, the following ones are index lookups like the rest.
    """
    field, eq, _value = text.strip().partition("=")
    field = field.strip()
    if not eq or not field or " " in field:
        return None
    name = field_name(field) or field
    if not _FIELD_NAME.fullmatch(name) or name in indexed_fields():
        return None
    return name


def _field_search(name: str, value: str, limit: int) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if _FIELD_NAME.fullmatch(name) and name in indexed_fields():
        expression = _field_expression(name)
        return contacts.extra(where=[f"{expression} = %s"], params=[value]).order_by("id")[:limit]  # noqa: S610 # expression from a checked name
    # No index: a JSON lookup, which scans.
    return contacts.filter(**{f"fields__{name}": value}).order_by("id")[:limit]


def search_contacts(text: str, limit: int = 50) -> QuerySet[Contact]:
    """Contacts whose address, first or last name, or external id starts with ``text``, or,
    for ``name=value``, whose custom field ``name`` equals ``value``.

    Each branch is an index range scan (migration 0002, field indexes above) cut at ``limit``
    rows in index order, so a common prefix ("ann" among a million contacts) reads 50 index
    entries, not every match. No branch sorts: on PostgreSQL, the pattern indexes do not give
    ORDER BY's collation order, so a sort would read every match first. The union of ids is
    small, and only those contacts are fetched and sorted.
    """
    text = text.strip()
    contacts = Contact.objects.filter(erased_at__isnull=True)  # an erased one has no data left
    if not text:
        return contacts.order_by("-id")[:limit]
    field, eq, value = text.partition("=")
    if eq and field.strip() and " " not in field.strip():
        return _field_search(field_name(field.strip()) or field.strip(), value.strip(), limit)
    lower = text.lower()
    ids: set[int] = set()
    ids.update(
        Address.objects.filter(prefix("email_key", lower)).values_list("contact_id", flat=True)[
            :limit
        ]
    )
    ids.update(
        Contact.objects.filter(prefix("external_id", text)).values_list("id", flat=True)[:limit]
    )
    first, _, last = lower.partition(" ")
    names = Contact.objects.annotate(first_key=Lower("first_name"), last_key=Lower("last_name"))
    if last:
        ids.update(
            names.filter(prefix("first_key", first) & prefix("last_key", last)).values_list(
                "id", flat=True
            )[:limit]
        )
    else:
        for key in ("first_key", "last_key"):
            ids.update(names.filter(prefix(key, lower)).values_list("id", flat=True)[:limit])
    return contacts.filter(id__in=ids).order_by("last_name", "first_name", "id")[:limit]


CUSTOM_COLUMN_SAMPLE = 1000  # newest contacts whose custom fields name the columns in use


def custom_columns() -> set[str]:
    """The custom columns contacts have (as variable names): every column mapped by an import,
    and the fields of the newest contacts (lists filled through the API have no import)."""
    names: set[str] = set()
    for columns in ImportJob.objects.order_by("-id").values_list("columns", flat=True)[:500]:
        names.update(str(target) for target in (columns or {}).values() if target)
    for fields in Contact.objects.order_by("-id").values_list("fields", flat=True)[
        :CUSTOM_COLUMN_SAMPLE
    ]:
        names.update(fields or {})
    return names

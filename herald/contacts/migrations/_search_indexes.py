"""The prefix-search indexes, shared by the migrations that create them (0002) and that must
create them again after SQLite rebuilt a table (0003): PostgreSQL needs varchar_pattern_ops for
LIKE 'x%'; SQLite uses plain BINARY indexes with range comparisons (see
herald.contacts.queries.prefix)."""

from typing import Any

INDEXES = [
    ("contact_address_email_key", "contacts_address", "email_key"),
    ("contact_external_id_prefix", "contacts_contact", "external_id"),
    ("contact_first_name_key", "contacts_contact", "(lower(first_name))"),
    ("contact_last_name_key", "contacts_contact", "(lower(last_name))"),
]


def create(schema_editor: Any) -> None:
    """Creates the indexes that do not exist yet."""
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, column in INDEXES:
        if not postgres and name == "contact_external_id_prefix":
            continue  # SQLite's unique index on external_id already serves range scans
        opclass = " varchar_pattern_ops" if postgres else ""
        if postgres and column.startswith("("):
            opclass = " text_pattern_ops"
        # Without the NULLs of contacts that have no external id (most imported ones).
        where = " WHERE external_id IS NOT NULL" if name == "contact_external_id_prefix" else ""
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column}{opclass}){where}"
        )

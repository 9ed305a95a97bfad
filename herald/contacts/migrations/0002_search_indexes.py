"""Prefix-search indexes: PostgreSQL needs varchar_pattern_ops for LIKE 'x%'; SQLite uses plain
BINARY indexes with range comparisons (see herald.contacts.queries.prefix)."""

from django.db import migrations

INDEXES = [
    ("contact_address_email_key", "contacts_address", "email_key"),
    ("contact_external_id_prefix", "contacts_contact", "external_id"),
    ("contact_first_name_key", "contacts_contact", "(lower(first_name))"),
    ("contact_last_name_key", "contacts_contact", "(lower(last_name))"),
]


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, column in INDEXES:
        if not postgres and name == "contact_external_id_prefix":
            continue  # SQLite's unique index on external_id already serves range scans
        opclass = " varchar_pattern_ops" if postgres else ""
        if postgres and column.startswith("("):
            opclass = " text_pattern_ops"
        schema_editor.execute(f"CREATE INDEX {name} ON {table} ({column}{opclass})")


def drop(apps, schema_editor):
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_contacts_lists_suppression_imports")]
    operations = [migrations.RunPython(create, drop)]

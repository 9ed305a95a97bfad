"""Prefix-search indexes: PostgreSQL needs varchar_pattern_ops for LIKE 'x%'; SQLite uses plain
BINARY indexes with range comparisons (see herald.contacts.queries.prefix)."""

from django.db import migrations

from herald.contacts.migrations._search_indexes import INDEXES
from herald.contacts.migrations._search_indexes import create as create_indexes


def create(apps, schema_editor):
    create_indexes(schema_editor)


def drop(apps, schema_editor):
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_contacts_lists_suppression_imports")]
    operations = [migrations.RunPython(create, drop)]

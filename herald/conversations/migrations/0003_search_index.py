"""The inbox search's full-text index (herald.conversations.search): an FTS5 table kept
in step by triggers on SQLite; on PostgreSQL a stored tsvector column of ``search_text`` with a
GIN index."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE conversation_search USING fts5("
    "search_text, content='conversations_conversation', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversations_conversation BEGIN "
    "INSERT INTO conversation_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversations_conversation BEGIN "
    "INSERT INTO conversation_search(conversation_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER conversation_search_update AFTER UPDATE OF search_text "
    "ON conversations_conversation BEGIN "
    "INSERT INTO conversation_search(conversation_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO conversation_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO conversation_search(conversation_search) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS conversation_search_update",
    "DROP TRIGGER IF EXISTS conversation_search_delete",
    "DROP TRIGGER IF EXISTS conversation_search_insert",
    "DROP TABLE IF EXISTS conversation_search",
]
# A stored column: a search walking the newest conversations checks each row's words without
# computing them again (an index on the expression alone would make it recompute every row).
POSTGRESQL = [
    "ALTER TABLE conversations_conversation ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
    "CREATE INDEX conversation_words ON conversations_conversation USING gin (search_vector)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS conversation_words",
    "ALTER TABLE conversations_conversation DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_agent_desk")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]

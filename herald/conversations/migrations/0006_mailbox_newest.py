"""PostgreSQL: an index of each mailbox's conversations, newest first, for an agent's search
that walks their mailboxes one by one (herald.conversations.queries). SQLite's search reads the
mailbox from its full-text index instead, and its planner is better left without another index
starting with the mailbox."""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS conversation_mailbox_newest ON conversations_conversation (mailbox_id, id)"  # noqa: E501
DROP = "DROP INDEX IF EXISTS conversation_mailbox_newest"


def _run(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_routing")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]

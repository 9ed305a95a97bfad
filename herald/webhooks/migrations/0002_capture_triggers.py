# Capture for webhooks: one webhooks_captured row per recorded event, in the transaction that
# records it, only while an endpoint is active (see herald/webhooks/models.py). On PostgreSQL
# the triggers are per statement, over the inserted rows as a transition table, so a dialer
# batch of a thousand events costs one INSERT ... SELECT.

from django.db import migrations

ACTIVE = "EXISTS (SELECT 1 FROM webhooks_endpoint WHERE active)"
FINISHED = "NEW.status IN ('done', 'failed') AND OLD.status NOT IN ('done', 'failed')"

SQLITE = [
    f"""
    CREATE TRIGGER webhooks_capture_events AFTER INSERT ON campaigns_event
    WHEN {ACTIVE}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('e', NEW.id);
    END
    """,
    f"""
    CREATE TRIGGER webhooks_capture_conversations AFTER INSERT ON conversations_conversationevent
    WHEN {ACTIVE}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('c', NEW.id);
    END
    """,
    f"""
    CREATE TRIGGER webhooks_capture_imports AFTER UPDATE OF status ON contacts_importjob
    WHEN {FINISHED} AND {ACTIVE}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('i', NEW.id);
    END
    """,
]
PG_STATEMENT = """
    CREATE FUNCTION webhooks_capture_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {active} THEN
            INSERT INTO webhooks_captured (source, row_id)
            SELECT '{source}', id FROM new_rows ORDER BY id;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_capture_{name} AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION webhooks_capture_{name}();
"""
PG = [
    PG_STATEMENT.format(name="events", source="e", table="campaigns_event", active=ACTIVE),
    PG_STATEMENT.format(
        name="conversations",
        source="c",
        table="conversations_conversationevent",
        active=ACTIVE,
    ),
    f"""
    CREATE FUNCTION webhooks_capture_imports() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {FINISHED} AND {ACTIVE} THEN
            INSERT INTO webhooks_captured (source, row_id) VALUES ('i', NEW.id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_capture_imports AFTER UPDATE OF status ON contacts_importjob
    FOR EACH ROW EXECUTE FUNCTION webhooks_capture_imports();
    """,
]
NAMES = [
    ("events", "campaigns_event"),
    ("conversations", "conversations_conversationevent"),
    ("imports", "contacts_importjob"),
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"webhook capture is not written for {vendor}")
    for sql in PG if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table in NAMES:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS webhooks_capture_{name}" + (f" ON {table}" if postgres else "")
        )
        if postgres:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS webhooks_capture_{name}()")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_endpoints_messages"),
        ("campaigns", "0006_pace_by_agents"),
        ("conversations", "0006_mailbox_newest"),
        ("contacts", "0005_contact_erasure"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

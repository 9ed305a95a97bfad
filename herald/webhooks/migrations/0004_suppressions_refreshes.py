# Capture for webhooks, as 0002/0003 do for events: suppression entries as they are added (but
# the hashes an erasure leaves, which say nothing to a receiver), and scheduled list refreshes
# as they fail. While an endpoint is active or the event feed is on.

from django.db import migrations

LISTENING = (
    "(EXISTS (SELECT 1 FROM webhooks_endpoint WHERE active)"
    " OR EXISTS (SELECT 1 FROM webhooks_feed WHERE enabled))"
)
FAILED = "NEW.status = 'failed' AND OLD.status <> 'failed'"

SQLITE = [
    f"""
    CREATE TRIGGER webhooks_capture_suppressions AFTER INSERT ON contacts_suppression
    WHEN NEW.reason <> 'erased' AND substr(NEW.value, 1, 7) <> 'sha256:' AND {LISTENING}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('s', NEW.id);
    END
    """,
    f"""
    CREATE TRIGGER webhooks_capture_refreshes AFTER UPDATE OF status ON contacts_refreshrun
    WHEN {FAILED} AND {LISTENING}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('r', NEW.id);
    END
    """,
]
PG = [
    f"""
    CREATE FUNCTION webhooks_capture_suppressions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {LISTENING} THEN
            INSERT INTO webhooks_captured (source, row_id)
            SELECT 's', id FROM new_rows
            WHERE reason <> 'erased' AND substr(value, 1, 7) <> 'sha256:' ORDER BY id;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_capture_suppressions AFTER INSERT ON contacts_suppression
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION webhooks_capture_suppressions();
    """,
    f"""
    CREATE FUNCTION webhooks_capture_refreshes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {FAILED} AND {LISTENING} THEN
            INSERT INTO webhooks_captured (source, row_id) VALUES ('r', NEW.id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_capture_refreshes AFTER UPDATE OF status ON contacts_refreshrun
    FOR EACH ROW EXECUTE FUNCTION webhooks_capture_refreshes();
    """,
]
NAMES = [("suppressions", "contacts_suppression"), ("refreshes", "contacts_refreshrun")]


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
        ("webhooks", "0003_event_feed"),
        ("contacts", "0006_list_refresh"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

# Capture for webhooks, as 0002-0004 do: the emails that call dispositions trigger, when they are
# sent, fail or are not sent (suppressed, no address, rule off). While an endpoint is active or
# the event feed is on.

from django.db import migrations

LISTENING = (
    "(EXISTS (SELECT 1 FROM webhooks_endpoint WHERE active)"
    " OR EXISTS (SELECT 1 FROM webhooks_feed WHERE enabled))"
)
FINAL = "NEW.state IN ('sent', 'failed', 'skipped')"

SQLITE = [
    f"""
    CREATE TRIGGER webhooks_capture_dispositions AFTER UPDATE OF state
    ON dispositions_disposition
    WHEN {FINAL} AND OLD.state <> NEW.state AND {LISTENING}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('d', NEW.id);
    END
    """,
    f"""
    CREATE TRIGGER webhooks_capture_dispositions_new AFTER INSERT ON dispositions_disposition
    WHEN {FINAL} AND {LISTENING}
    BEGIN
        INSERT INTO webhooks_captured (source, row_id) VALUES ('d', NEW.id);
    END
    """,
]
PG = [
    f"""
    CREATE FUNCTION webhooks_capture_dispositions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {FINAL} AND (TG_OP = 'INSERT' OR OLD.state <> NEW.state) AND {LISTENING} THEN
            INSERT INTO webhooks_captured (source, row_id) VALUES ('d', NEW.id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_capture_dispositions AFTER INSERT OR UPDATE OF state
    ON dispositions_disposition
    FOR EACH ROW EXECUTE FUNCTION webhooks_capture_dispositions();
    """,
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"webhook capture is not written for {vendor}")
    for sql in PG if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS webhooks_capture_dispositions ON dispositions_disposition"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS webhooks_capture_dispositions()")
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS webhooks_capture_dispositions")
        schema_editor.execute("DROP TRIGGER IF EXISTS webhooks_capture_dispositions_new")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0004_suppressions_refreshes"),
        ("dispositions", "0001_rules_calls"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

"""A NOTIFY on the flags channel for every committed change to a flag or its users/groups.

PostgreSQL queues a NOTIFY until its transaction commits and drops it on rollback, so
listeners hear about exactly the changes that became visible. One per statement is enough:
the listener reloads every definition anyway."""

from django.db import migrations

TABLES = ("flags_flagdefinition", "flags_flagdefinition_users", "flags_flagdefinition_groups")
CHANNEL = "workshop_flags"  # = workshop.flags.schema.CHANNEL (a migration must not change with the code)

FUNCTION = f"""
CREATE OR REPLACE FUNCTION flags_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END $$;
"""

TRIGGERS = "".join(
    f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION flags_notify_change();\n"
    for table in TABLES
)

DROP = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_notify ON {table};\n" for table in TABLES)
    + "DROP FUNCTION IF EXISTS flags_notify_change();"
)


class Migration(migrations.Migration):
    dependencies = [("flags", "0001_initial")]

    operations = [migrations.RunSQL(FUNCTION + TRIGGERS, DROP)]

"""`fully_on_since` kept by the database: every write that turns a flag fully on (on for
everyone, or 100%) records when, whatever made it (save(), QuerySet.update(), the flip
helpers' SQL, the kill switch turned back on, the admin, psql), and every write that stops it
being so clears it. The stale-flag report reads it (workshop/flags/stale.py).

Rules: not fully on -> NULL. Fully on now but not before (an INSERT, or an UPDATE from not
fully on) -> now(), or the inserted value when an INSERT gives one. Fully on before and now ->
the earlier of the old and the new value (a backdated import is kept, a stale model instance
saving a newer time does not restart the clock).

Rows that were fully on with no date (written by .update() or SQL before this trigger) get
their updated_at: the latest they can have become fully on, so none is reported stale early."""

from django.db import migrations

FULLY_ON = "{0}.enabled AND ({0}.everyone OR {0}.percentage >= 100)"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION flags_fully_on_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ({FULLY_ON.format("NEW")}) THEN
        NEW.fully_on_since := NULL;
    ELSIF TG_OP = 'INSERT' THEN
        NEW.fully_on_since := COALESCE(NEW.fully_on_since, now());
    ELSIF NOT ({FULLY_ON.format("OLD")}) THEN
        NEW.fully_on_since := now();
    ELSE
        NEW.fully_on_since := COALESCE(LEAST(OLD.fully_on_since, NEW.fully_on_since), now());
    END IF;
    RETURN NEW;
END $$;
"""

FORWARD = f"""
UPDATE flags_flagdefinition SET fully_on_since = updated_at
    WHERE {FULLY_ON.format("flags_flagdefinition")} AND fully_on_since IS NULL;
UPDATE flags_flagdefinition SET fully_on_since = NULL
    WHERE NOT ({FULLY_ON.format("flags_flagdefinition")}) AND fully_on_since IS NOT NULL;
{FUNCTION}
CREATE TRIGGER flags_flagdefinition_fully_on_since BEFORE INSERT OR UPDATE ON flags_flagdefinition
    FOR EACH ROW EXECUTE FUNCTION flags_fully_on_since();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS flags_flagdefinition_fully_on_since ON flags_flagdefinition;
DROP FUNCTION IF EXISTS flags_fully_on_since();
"""


class Migration(migrations.Migration):
    dependencies = [("flags", "0003_memberships_notify")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

"""A NOTIFY on the flags channel, payload "memberships", for every committed change to which
groups users are in: each process caches its users' groups (workshop/flags/memberships.py)
and clears the cache when it hears this. One per statement, like migration 0002's."""

from django.conf import settings
from django.db import migrations

CHANNEL = "workshop_flags"  # = workshop.flags.schema.CHANNEL
PAYLOAD = "memberships"  # = workshop.flags.schema.MEMBERSHIPS

FUNCTION = f"""
CREATE OR REPLACE FUNCTION flags_notify_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '{PAYLOAD}');
    RETURN NULL;
END $$;
"""


def _table(apps, schema_editor) -> str:
    """The user model's groups table (auth_user_groups for Django's own User)."""
    user = apps.get_model(settings.AUTH_USER_MODEL)
    return schema_editor.quote_name(user._meta.get_field("groups").remote_field.through._meta.db_table)


def create(apps, schema_editor) -> None:
    schema_editor.execute(FUNCTION)
    schema_editor.execute(
        f"CREATE TRIGGER flags_memberships_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {_table(apps, schema_editor)} FOR EACH STATEMENT EXECUTE FUNCTION flags_notify_memberships()"
    )


def drop(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TRIGGER IF EXISTS flags_memberships_notify ON {_table(apps, schema_editor)}")
    schema_editor.execute("DROP FUNCTION IF EXISTS flags_notify_memberships()")


class Migration(migrations.Migration):
    dependencies = [("flags", "0002_notify_trigger"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [migrations.RunPython(create, drop)]

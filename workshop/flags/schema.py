"""The flag tables as SQL sees them: their names, the NOTIFY channel, and the one query that
loads every definition. No Django here, so worker processes start in milliseconds."""

from __future__ import annotations

from workshop.flags.rules import Definition

TABLE = "flags_flagdefinition"
USERS_TABLE = "flags_flagdefinition_users"
GROUPS_TABLE = "flags_flagdefinition_groups"
CHANNEL = "workshop_flags"  # migration 0002's trigger NOTIFYs here on every committed change
MEMBERSHIPS = "memberships"  # migration 0003's payload: a user joined or left a group

LOAD_SQL = f"""
SELECT f.key, f.enabled, f.everyone, f.percentage::float8, f.fully_on_since,
       ARRAY(SELECT u.user_id FROM {USERS_TABLE} u WHERE u.flagdefinition_id = f.id),
       ARRAY(SELECT g.group_id FROM {GROUPS_TABLE} g WHERE g.flagdefinition_id = f.id)
FROM {TABLE} f
"""


def load_definitions(conn) -> dict[str, Definition]:
    """Every flag, read in one statement (one snapshot: never half of a change)."""
    rows = conn.execute(LOAD_SQL).fetchall()
    return {
        key: Definition(key, enabled, everyone, percentage, frozenset(users), frozenset(groups), since)
        for key, enabled, everyone, percentage, since, users, groups in rows
    }

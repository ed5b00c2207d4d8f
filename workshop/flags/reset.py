"""Chapter 03's reset: no flag left from a previous run (the workshop's and waffle's), and the
expand/contract demo's schema gone. The flags table's trigger tells every listener."""

from __future__ import annotations

CHAPTER = "03"


def reset() -> list[str]:
    from django.db import connection

    from workshop.flags.expand_contract import SCHEMA
    from workshop.flags.models import FlagDefinition
    from workshop.lessons.app_tables import truncate_app

    flags = FlagDefinition.objects.count()
    truncate_app("flags", "waffle")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(SCHEMA)} CASCADE")
    return [f"{flags} flag definitions and waffle's flags, switches and samples removed", f"schema {SCHEMA} dropped"]

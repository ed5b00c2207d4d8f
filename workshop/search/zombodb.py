"""placeholder"""
from __future__ import annotations


def unavailable_reason() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'zombodb'")
        if cur.fetchone():
            return ""
    return "the connected PostgreSQL has no zombodb extension (docker compose --profile zombodb up)"

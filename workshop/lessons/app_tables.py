"""Emptying a theme's own tables (its Django models, many-to-many tables included): what a
theme's reset does for the rows it wrote."""

from __future__ import annotations


def truncate_app(label: str, *extra_apps: str) -> list[str]:
    """TRUNCATE every table of the given Django apps that holds rows; returns their names."""
    from django.apps import apps
    from django.db import connection

    tables = sorted(
        {
            model._meta.db_table
            for app in (label, *extra_apps)
            for model in apps.get_app_config(app).get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy  # a proxy's table is another model's
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(t), ', ') FROM unnest(%s::text[]) AS t WHERE to_regclass(quote_ident(t)) IS NOT NULL",
            [tables],
        )
        (names,) = cursor.fetchone()
        if names:
            cursor.execute(f"TRUNCATE {names} RESTART IDENTITY")
    return tables

"""A subset of the copy, for a partner who needs a small part of the data.

    build(subset={"shop.Customer": Q(city="Lyon")}, target="partner")

Each root model keeps the rows its Django Q selects; every other table keeps a row only
when each of its foreign keys is NULL or points at a row kept (orders and items of those
customers, reviews by them); tables that reference nothing restricted are copied whole
(products, categories). So every key of the subset points inside it, and the build's
foreign-key validation checks that once more.

The Q is compiled by Django's ORM into SQL with parameters (never text we assemble), and
becomes a sub-select of the same anonymizing INSERT ... SELECT, so it reads the build's
snapshot like the rest of the copy.
"""

from __future__ import annotations

import re

from psycopg import sql

from workshop.anonymize import rules as rules_mod
from workshop.errors import WorkshopError

DJANGO_SCHEMA = "public"  # the schema Django's models (and so the compiled Q) read


def validate(subset: dict, tables: dict, source: str) -> dict[str, tuple]:
    """{"app.Model": Q} -> {table: (model, Q)}, checked before anything is written."""
    from django.db.models import Q

    if not isinstance(subset, dict) or not subset:
        raise WorkshopError("subset must be a non-empty dict", 'e.g. subset={"shop.Customer": Q(city="Lyon")}')
    if source != DJANGO_SCHEMA:
        raise WorkshopError(
            f"A subset is selected through the Django models, which read schema {DJANGO_SCHEMA!r}, not {source!r}",
            f"build the subset from source={DJANGO_SCHEMA!r}",
        )
    roots = {}
    for label, condition in subset.items():
        model = rules_mod.get_model(label)
        if not isinstance(condition, Q):
            raise WorkshopError(
                f"The subset of {label} is a {type(condition).__name__}, not a Q",
                f'e.g. {{"{label}": Q(pk__in=[1, 2, 3])}} (from django.db.models import Q)',
            )
        if model._meta.db_table not in tables:
            raise WorkshopError(f"The subset names {label}, whose table is not copied", "add it to `only`")
        compiled(model, condition)  # a wrong lookup is said now, before anything is written
        roots[model._meta.db_table] = (model, condition)
    return roots


def compiled(model, condition) -> tuple[str, tuple] | None:
    """The primary keys the Q selects, as Django's SQL and its parameters (None: no row)."""
    from django.core.exceptions import EmptyResultSet, FieldError

    try:
        return model._base_manager.filter(condition).values("pk").query.sql_with_params()
    except EmptyResultSet:
        return None
    except (FieldError, ValueError, TypeError) as exc:  # a wrong lookup or value
        raise WorkshopError(f"The subset of {model._meta.label} cannot be compiled ({exc})", "check the Q") from None


def parameterized(django_sql: str, params: tuple, q) -> sql.Composable:
    """Django's SQL (%s placeholders, %% for a literal %) with each parameter bound under a
    name of the table's query, whose other parameters are named too."""
    parts, values = [], iter(params)
    for token in re.split(r"(%%|%s)", django_sql):
        parts.append(q.param(next(values)) if token == "%s" else sql.SQL(token))
    return sql.Composed(parts)


class Plan:
    """Which tables the subset restricts, and the WHERE that keeps a table's rows."""

    def __init__(self, roots: dict, fkeys: dict, source: str):
        self.roots, self.fkeys, self.source = roots, fkeys, source
        self.restricted = set(roots)
        grew = True
        while grew:  # a table referencing a restricted one is restricted too
            grew = False
            for name, keys in fkeys.items():
                if name not in self.restricted and any(k.ref_table in self.restricted for k in keys):
                    self.restricted.add(name)
                    grew = True

    def where(self, name: str, q, alias: str = "s", path: tuple = ()) -> sql.Composable | None:
        """The condition on `alias` (a row of `name`) that keeps it in the subset; None: all rows."""
        if name not in self.restricted:
            return None
        if name in path:
            raise WorkshopError(
                f"The subset cannot follow the cycle of foreign keys {' -> '.join(path + (name,))}",
                "subset a model outside the cycle, or copy the whole table",
            )
        conditions = []
        if name in self.roots:
            model, condition = self.roots[name]
            selected = compiled(model, condition)
            conditions.append(
                sql.SQL("FALSE")  # a Q Django knows selects nothing, e.g. pk__in=[]
                if selected is None
                else sql.SQL("{} IN ({})").format(
                    sql.Identifier(alias, model._meta.pk.column), parameterized(*selected, q)
                )
            )
        for k in self.fkeys.get(name, []):
            inner = f"_sub{len(path) + 1}"
            kept = self.where(k.ref_table, q, inner, path + (name,))
            if kept is None:
                continue
            columns = sql.SQL(", ").join(sql.Identifier(alias, c) for c in k.columns)
            nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(alias, c)) for c in k.columns)
            conditions.append(
                sql.SQL("({nulls} OR ({columns}) IN (SELECT {refs} FROM {table} AS {inner} WHERE {kept}))").format(
                    nulls=nulls,
                    columns=columns,
                    refs=sql.SQL(", ").join(sql.Identifier(inner, c) for c in k.ref_columns),
                    table=sql.Identifier(self.source, k.ref_table),
                    inner=sql.Identifier(inner),
                    kept=kept,
                )
            )
        return sql.SQL(" AND ").join(conditions)

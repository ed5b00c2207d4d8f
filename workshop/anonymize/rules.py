"""Declarative rules, {"app_label.Model": {"field": Strategy}}, checked against the Django
schema and the database before any row is touched.

Every problem is collected and reported at once, in one line that names the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from workshop.anonymize.strategies import INT_TYPES, STRATEGIES, Column, Strategy
from workshop.errors import WorkshopError


@dataclass(frozen=True)
class TableRules:
    model_label: str
    table: str
    pk: str | None
    rules: tuple[tuple[Column, Strategy], ...]


def column_for(model, field_name: str, db_types: dict[str, str] | None = None) -> Column:
    """A model field as a strategy sees it. Raises WorkshopError for an unknown field."""
    try:
        field = model._meta.get_field(field_name)
    except Exception:
        names = ", ".join(f.name for f in model._meta.concrete_fields)
        raise WorkshopError(f"{model._meta.label} has no field {field_name!r}", f"choose from: {names}") from None
    if not getattr(field, "concrete", False) or field.column is None:
        raise WorkshopError(f"{model._meta.label}.{field_name} is not a column", "pick a concrete field")
    kind = field.get_internal_type()
    unique = (
        field.unique
        or any(field.name in together for together in model._meta.unique_together)
        or any(
            field.name in getattr(c, "fields", ())
            for c in model._meta.constraints
            if type(c).__name__ == "UniqueConstraint"
        )
    )
    return Column(
        label=f"{model._meta.label}.{field.name}",
        name=field.column,
        kind=kind,
        db_type=(db_types or {}).get(field.column) or field.db_type(_connection()),
        max_length=getattr(field, "max_length", None),
        unique=unique,
        null=field.null,
        positive=kind.startswith("Positive"),
        decimal_places=getattr(field, "decimal_places", None),
    )


def _connection():
    from django.db import connection

    return connection


def get_model(label: str):
    from django.apps import apps

    from workshop.django_setup import require_setup

    require_setup()  # used before workshop.setup(): say which cell to run
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        known = ", ".join(sorted(m._meta.label for m in apps.get_models()))
        raise WorkshopError(f"Unknown model {label!r} in the anonymization rules", f"use one of: {known}") from None


def strategy_from_name(name: str, **options) -> Strategy:
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise WorkshopError(f"Unknown strategy {name!r}", f"choose from: {', '.join(STRATEGIES)}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise WorkshopError(
            f"Strategy {name!r} does not take these options ({exc})", f"see help({cls.__name__})"
        ) from None


def validate(rules: dict, catalog: dict[str, dict[str, str]] | None = None) -> list[TableRules]:
    """Resolve and check every rule. `catalog` maps table -> {column: type} in the source
    schema; a column the rules name but the database lacks is a problem too."""
    from workshop.django_setup import require_setup

    require_setup()  # used before workshop.setup(): say which cell to run
    problems: list[str] = []
    resolved: list[TableRules] = []
    if not isinstance(rules, dict) or not rules:
        raise WorkshopError(
            "The anonymization rules are empty or not a dict", 'write {"app.Model": {"field": Strategy}}'
        )
    for label, fields in rules.items():
        try:
            model = get_model(label)
        except WorkshopError as exc:
            problems.append(exc.problem)
            continue
        table = model._meta.db_table
        db_types = (catalog or {}).get(table)
        if catalog is not None and db_types is None:
            problems.append(f"{label}: table {table} is not in the source schema (run the migrations)")
            continue
        pk = model._meta.pk
        pk_column = (
            pk.column if pk.get_internal_type() in INT_TYPES | {"AutoField", "BigAutoField", "SmallAutoField"} else None
        )
        pairs = []
        for field_name, strategy in (fields or {}).items():
            if not isinstance(strategy, Strategy):
                problems.append(f"{label}.{field_name}: {strategy!r} is not a strategy")
                continue
            try:
                column = column_for(model, field_name, db_types)
            except WorkshopError as exc:
                problems.append(exc.problem)
                continue
            if db_types is not None and column.name not in db_types:
                problems.append(
                    f"{column.label}: column {column.name} is missing from table {table} (run the migrations)"
                )
                continue
            if column.name == pk.column or model._meta.get_field(field_name).is_relation:
                problems.append(f"{column.label} is a key; anonymize the row it points to instead")
                continue
            if strategy.name == "shuffle" and pk_column is None:
                problems.append(f"{column.label}: shuffle needs an integer primary key")
                continue
            problem = strategy.check(column)
            if problem:
                problems.append(f"{column.label}: {problem}")
                continue
            pairs.append((column, strategy))
        resolved.append(TableRules(label, table, pk_column, tuple(pairs)))
    if problems:
        raise WorkshopError(
            "Invalid anonymization rules: " + "; ".join(problems), "fix these rules; nothing was written"
        )
    return resolved

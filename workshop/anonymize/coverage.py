"""Coverage: every column of every model is either rewritten by a rule or declared safe
with a reason (django-scrubber's scrub_validation idea, for every field type).

A new model or field that nobody classified is copied into the "anonymized" copy as it
is; `workshop anonymize check` fails on it in CI before that happens.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Coverage:
    fields: int  # concrete fields looked at
    ruled: int
    declared_safe: int
    keys: int  # primary and foreign keys: structure, anonymized through the rows they point to
    uncovered: tuple[str, ...]  # "app.Model.field"
    stale: tuple[str, ...]  # declarations naming a model or field that does not exist

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.stale

    def __str__(self) -> str:
        head = (
            f"{self.fields} fields: {self.ruled} rewritten by a rule, {self.declared_safe} declared safe, "
            f"{self.keys} keys"
        )
        lines = [head]
        if self.uncovered:
            lines.append(f"{len(self.uncovered)} neither covered by a rule nor declared safe:")
            lines += [f"  {label}" for label in self.uncovered]
        if self.stale:
            lines.append(f"{len(self.stale)} safe declarations name nothing that exists:")
            lines += [f"  {label}" for label in self.stale]
        if not self.ok:
            lines.append(
                "fix: add a rule for each field (shop_rules.shop_rules) or declare it safe with a reason "
                "(shop_rules.SAFE)"
            )
        return "\n".join(lines)


def check(rules: dict, safe: dict, models=None) -> Coverage:
    """`rules`: {"app.Model": {"field": Strategy}}; `safe`: {"app.Model": {"field": reason}} or
    {"app.Model": reason} for a whole model. `models`: default every installed model."""
    from django.apps import apps

    from workshop.django_setup import require_setup

    require_setup()
    # a proxy model reads its concrete model's table: the concrete model's rules cover it
    models = [m for m in (models if models is not None else apps.get_models()) if not m._meta.proxy]
    uncovered, counts = [], {"fields": 0, "ruled": 0, "safe": 0, "keys": 0}
    existing = {m._meta.label for m in apps.get_models()}
    installed = {a.label for a in apps.get_app_configs()}
    for model in models:
        label = model._meta.label
        ruled = set((rules or {}).get(label, {}))
        declared = safe.get(label, {})
        for field in model._meta.concrete_fields:
            counts["fields"] += 1
            if field.primary_key or field.is_relation:
                counts["keys"] += 1
            elif field.name in ruled:
                counts["ruled"] += 1
            elif isinstance(declared, str) or field.name in declared:
                counts["safe"] += 1
            else:
                uncovered.append(f"{label}.{field.name}")
    stale = []
    for label, declared in safe.items():
        if label not in existing:
            if label.partition(".")[0] in installed:  # a theme that is not installed here is not stale
                stale.append(label)
            continue
        if isinstance(declared, dict):
            names = {f.name for f in apps.get_model(label)._meta.concrete_fields}
            stale += [f"{label}.{name}" for name in declared if name not in names]
    return Coverage(counts["fields"], counts["ruled"], counts["safe"], counts["keys"], tuple(uncovered), tuple(stale))

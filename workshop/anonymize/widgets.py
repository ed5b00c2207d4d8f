"""The notebook's two widgets: a rule previewer (model, field, strategy: rows before and
after, computed live by the engine's SQL) and a generalization explorer (sliders that
recompute k-anonymity and the share of unique records)."""

from __future__ import annotations

import datetime

import ipywidgets as widgets
from IPython.display import display

from workshop.anonymize import shop_rules
from workshop.anonymize import strategies as S
from workshop.django_setup import require_setup
from workshop.widgets import visible_errors

MODELS = ("shop.Customer", "auth.User", "shop.Review")


def default_strategy(name: str, column: S.Column):
    """A sensible configuration of strategy `name` for this column, to try it out."""
    from workshop.anonymize import pools

    if name == "static":
        if column.kind in S.DATE_TYPES:
            return S.Static(
                datetime.date(2000, 1, 1)
                if column.kind == "DateField"
                else datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
            )
        return S.Static(0) if column.kind in S.NUMBER_TYPES else S.Static("redacted"[: column.max_length or 8])
    if name == "mask":
        return S.Mask("email" if "email" in column.name else "digits")
    if name == "fake":
        provider = column.name if pools.check_provider(column.name, "en_US") is None else "word"
        return S.Fake(provider)
    if name == "pseudonymize":
        if "email" in column.name:
            return shop_rules.EMAIL
        if column.name == "national_id":
            return shop_rules.NATIONAL_ID
        if column.name == "phone":
            return shop_rules.PHONE
        return S.Pseudonymize(f"{{hex:{min(16, column.max_length or 16)}}}")
    if name == "generalize_date":
        return S.GeneralizeDate(1)
    if name == "keep_prefix":
        return S.KeepPrefix(3)
    if name == "noise":
        return S.Noise(30 if column.kind in S.DATE_TYPES else 5)
    return S.STRATEGIES[name]()


def rule_preview(limit: int = 8) -> widgets.VBox:
    """Pick a model, a field and a strategy: the first rows, before and after."""
    require_setup()  # used before workshop.setup(): say which cell to run
    from workshop.anonymize import engine, rules

    model = widgets.Dropdown(options=MODELS, description="Model")
    field = widgets.Dropdown(description="Field")
    strategy = widgets.Dropdown(options=list(S.STRATEGIES), value="pseudonymize", description="Strategy")
    note = widgets.HTML()
    out = widgets.Output()

    def fill_fields(_change=None) -> None:
        m = rules.get_model(model.value)
        names = [f.name for f in m._meta.concrete_fields if not f.is_relation and not f.primary_key]
        field.options = names
        field.value = "email" if "email" in names else names[0]

    @visible_errors(out)
    def show(_change=None) -> None:
        m = rules.get_model(model.value)
        column = rules.column_for(m, field.value)
        chosen = default_strategy(strategy.value, column)
        note.value = f"<code>{chosen!r}</code>"
        problem = chosen.check(column)
        if problem:  # the same check build() runs before writing anything
            print(f"Rejected before any write: {problem}")
            return
        display(engine.preview(model.value, field.value, chosen, limit=limit))

    model.observe(lambda change: (fill_fields(), show()), names="value")
    field.observe(show, names="value")
    strategy.observe(show, names="value")
    fill_fields()
    show()
    return widgets.VBox([widgets.HBox([model, field, strategy]), note, out])


def generalization_explorer(schema: str = "public") -> widgets.VBox:
    """Sliders for how coarse birth date and ZIP are: k and the unique share follow."""
    require_setup()
    import matplotlib.pyplot as plt

    from workshop.anonymize.measure import BIRTH_LEVELS, Generalization, k_anonymity

    k_anonymity(schema=schema)  # a bad or missing schema is one line here, not a traceback in every callback

    birth = widgets.SelectionSlider(
        options=BIRTH_LEVELS,
        value="date",
        description="Birth date",
        continuous_update=False,
        layout=widgets.Layout(width="420px"),
    )
    zip_digits = widgets.IntSlider(value=5, min=0, max=5, description="ZIP digits", continuous_update=False)
    gender = widgets.Checkbox(value=True, description="gender")
    out = widgets.Output()

    @visible_errors(out)
    def show(_change=None) -> None:
        g = Generalization(birth.value, zip_digits.value, gender.value)
        result = k_anonymity(g, schema=schema)
        print(
            f"{g.describe()}: k = {result.k}, {result.unique_share:.1%} of {result.rows:,} records are unique, "
            f"{result.records_with_k_below(5) / result.rows:.1%} sit in a class smaller than 5"
        )
        sizes = sorted(result.class_sizes.items())
        fig, ax = plt.subplots(figsize=(7, 2.4))
        buckets = {"1": 0, "2-4": 0, "5-9": 0, "10-49": 0, "50+": 0}
        for size, records in sizes:
            key = "1" if size == 1 else "2-4" if size < 5 else "5-9" if size < 10 else "10-49" if size < 50 else "50+"
            buckets[key] += records
        ax.bar(list(buckets), [v / result.rows for v in buckets.values()], color="#4c72b0")
        ax.set_xlabel("size of the record's equivalence class")
        ax.set_ylabel("share of records")
        ax.set_ylim(0, 1)
        plt.tight_layout()
        plt.show()

    for control in (birth, zip_digits, gender):
        control.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([birth, zip_digits, gender]), out])

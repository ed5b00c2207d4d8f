"""`workshop doctor`: one line per thing the workshop needs, with a fix when it is missing."""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from dataclasses import dataclass
from pathlib import Path

from workshop.errors import WorkshopError

MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def symbol(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.required else "warn")


def check_python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("Python", ok, f"{found} at {sys.executable}", "install Python 3.11 or newer and rerun `make lab`")


def check_packages() -> list[Check]:
    """Every dependency of the installed `workshop` distribution, against its pinned range."""
    from packaging.requirements import Requirement

    try:
        requirements = [Requirement(r) for r in metadata.requires("workshop") or []]
    except metadata.PackageNotFoundError:
        return [Check("packages", False, "the workshop package is not installed", "run `make install`")]
    checks, problems = [], []
    for req in requirements:
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue  # test extras are checked by running the tests
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name} missing")
            continue
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name} {version} not in {req.specifier}")
    ok = not problems
    detail = f"{len(requirements)} dependencies in range" if ok else "; ".join(problems)
    checks.append(
        Check("packages", ok, detail, "run `make install` (or `pip install -e .`) in the workshop's environment")
    )
    return checks


def check_postgres() -> tuple[Check, object | None]:
    """The PostgreSQL check, and the database it found (None when it failed)."""
    from workshop.services import postgres

    try:
        db = postgres.resolve()
        with db.connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    except WorkshopError as exc:
        return Check("PostgreSQL", False, exc.problem, exc.fix), None
    return Check("PostgreSQL", True, f"{version} ({db.source}) {db.safe_url}"), db


def check_dataset(db) -> Check:
    from workshop import django_setup

    try:
        django_setup.configure(db.url)
        if django_setup.pending_migrations():
            return Check(
                "dataset", False, "database not migrated yet", "run `workshop data load` or workshop.setup()", False
            )
        from workshop.shop.data import load

        current = load.current()
    except WorkshopError as exc:
        return Check("dataset", False, exc.problem, exc.fix, required=False)
    if current is None:
        return Check("dataset", False, "no dataset loaded yet", "run `workshop data load` or workshop.setup()", False)
    customers = current.row_counts.get("shop_customer", 0)
    return Check("dataset", True, f"{current.size}: {customers:,} customers", required=False)


def check_elasticsearch() -> Check:
    from workshop.services import elasticsearch

    found = elasticsearch.find()
    if found.available:
        return Check("Elasticsearch", True, f"{found.version or '?'} ({found.source}) {found.url}", required=False)
    return Check(
        "Elasticsearch", False, "not available (only the search notebook needs it)", found.problem or "", required=False
    )


def check_jupyter() -> list[Check]:
    checks = []
    try:
        lab = metadata.version("jupyterlab")
        checks.append(Check("JupyterLab", True, lab))
    except metadata.PackageNotFoundError:
        checks.append(Check("JupyterLab", False, "not installed", "run `make install`"))
    extension = Path(sys.prefix) / "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager/package.json"
    try:
        widgets = metadata.version("jupyterlab_widgets")
        ok = extension.is_file()
        checks.append(
            Check(
                "widget extension",
                ok,
                f"jupyterlab_widgets {widgets}" + ("" if ok else f", {extension} missing"),
                "reinstall: pip install --force-reinstall jupyterlab_widgets",
            )
        )
    except metadata.PackageNotFoundError:
        checks.append(Check("widget extension", False, "jupyterlab_widgets not installed", "run `make install`"))
    checks.append(check_kernel())
    return checks


KERNEL_FIX = (
    "start JupyterLab with `make lab`, or register this environment's kernel with "
    "`{python} -m ipykernel install --user --name django-workshop` and pick 'django-workshop' "
    "in Kernel > Change Kernel"
)


def workshop_environment() -> Path | None:
    """The environment `make install` made for this checkout (its .venv), if there is one.
    Elsewhere (conda, Binder, a wheel install) the environment is the one the package is in."""
    from workshop import config

    venv = config.CHECKOUT_DIR / ".venv"
    return venv if config.in_checkout() and (venv / "pyvenv.cfg").is_file() else None


def check_kernel(expected: Path | None = None) -> Check:
    """Is this kernel's interpreter the workshop environment's? (A JupyterLab from elsewhere
    runs its own Python, where the workshop's pinned packages are not.)"""
    expected = workshop_environment() if expected is None else expected
    running = Path(sys.prefix).resolve()
    try:
        kernel = metadata.version("ipykernel")
    except metadata.PackageNotFoundError:
        return Check("kernel", False, f"ipykernel missing in {running}", "run `make install`")
    if expected is not None and running != Path(expected).resolve():
        return Check(
            "kernel",
            False,
            f"this kernel runs {sys.executable}, not the workshop's environment {expected}",
            KERNEL_FIX.format(python=Path(expected) / "bin" / "python"),
        )
    return Check("kernel", True, f"ipykernel {kernel}, {sys.executable}")


def run_checks() -> list[Check]:
    database_check, db = check_postgres()  # resolved once; the dataset check reuses it
    checks = [check_python(), *check_packages(), database_check]
    if db is not None:
        checks.append(check_dataset(db))
    return [*checks, check_elasticsearch(), *check_jupyter()]


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        line = f"{c.symbol:<4} {c.name:<{width}}  {c.detail}"
        if not c.ok and c.fix:
            line += f"  -> {c.fix}"
        lines.append(line)
    return "\n".join(lines)


def html_table(checks: list[Check]):
    """The checks as a green/amber/red table for a notebook."""
    import html

    from IPython.display import HTML

    colours = {"ok": "#1b7f3b", "warn": "#b26b00", "FAIL": "#b00020"}
    rows = "".join(
        f"<tr><td style='color:{colours[c.symbol]};font-weight:bold'>{c.symbol}</td>"
        f"<td style='text-align:left'>{html.escape(c.name)}</td><td style='text-align:left'>{html.escape(c.detail)}</td>"
        f"<td style='text-align:left'>{html.escape(c.fix) if not c.ok else ''}</td></tr>"
        for c in checks
    )
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("", "check", "found", "fix"))
    head = f"<tr>{head}</tr>"
    return HTML(f"<table class='workshop-doctor'>{head}{rows}</table>")

"""Flag debt: which flags does the code use, which does the database hold, which have been
on for everyone so long that the flag (and its dead branch) should go?

The code is read with `ast` (never imported or run): a flag is referenced where a known flag
call gets a string literal as its flag name, e.g. `request.flags.is_on("x")`,
`flags.is_on("x", user=u)`, `flag_is_active(request, "x")`, `override_flag("x", True)`,
`client.get_boolean_value("x", False)`, or a module-level constant holding the name
(`RECOMMENDED = "x"`, then `is_on(RECOMMENDED)`). Names built at run time cannot be seen; keep flag
names literal (which is one more reason the workshop rejects non-identifier names).
"""

from __future__ import annotations

import ast
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workshop.errors import WorkshopError

# call name -> position of the flag-name argument
FLAG_CALLS = {
    "is_on": 0,
    "is_off": 0,
    "get_boolean_value": 0,
    "get_boolean_details": 0,
    "override_flag": 0,
    "override_switch": 0,
    "switch_is_active": 0,
    "waffle_flag": 0,
    "waffle_switch": 0,
    "flag_is_active": 1,
}
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "migrations", ".workshop", "build", "dist"}


@dataclass(frozen=True)
class Reference:
    key: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def references_in_source(source: str, path: str = "<string>") -> list[Reference]:
    """Flag names used in one module's source."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise WorkshopError(
            f"{path}:{error.lineno}: not valid Python ({error.msg})", "fix the file or leave it out of the scan"
        ) from None
    constants = _string_constants(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        position = FLAG_CALLS.get(name)
        if position is None:
            continue
        argument = (
            node.args[position]
            if len(node.args) > position
            else _keyword(node, ("key", "flag_key", "flag_name", "name"))
        )
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.append(Reference(argument.value, path, node.lineno))
        elif isinstance(argument, ast.Name) and argument.id in constants:
            found.append(Reference(constants[argument.id], path, node.lineno))
    return found


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"`: flag names are often kept in such constants."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _keyword(node: ast.Call, names: tuple[str, ...]):
    return next((k.value for k in node.keywords if k.arg in names), None)


def python_files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            yield path


def scan(root: str | Path) -> dict[str, list[Reference]]:
    """Every flag name referenced under `root` (a folder or one file), with where."""
    root = Path(root)
    if not root.exists():
        raise WorkshopError(f"{root} does not exist", "give a folder (or a .py file) of your code to scan")
    found: dict[str, list[Reference]] = {}
    for path in python_files(root):
        for ref in references_in_source(path.read_text(encoding="utf-8", errors="replace"), str(path)):
            found.setdefault(ref.key, []).append(ref)
    return found


@dataclass
class StaleReport:
    unused: list[str] = field(default_factory=list)  # in the database, used nowhere in the code
    missing: dict[str, list[Reference]] = field(default_factory=dict)  # used in code, not defined
    fully_rolled_out: dict[str, int] = field(default_factory=dict)  # key -> days on for everyone
    days: int = 30

    @property
    def problems(self) -> int:
        return len(self.unused) + len(self.missing) + len(self.fully_rolled_out)

    def lines(self) -> list[str]:
        out = [f"unused (defined, never referenced): {key}" for key in self.unused]
        out += [
            f"missing (referenced, not defined): {key} at {', '.join(map(str, refs[:3]))}"
            for key, refs in self.missing.items()
        ]
        out += [
            f"fully rolled out for {n} days (> {self.days}): {key}: remove the flag and its dead branch"
            for key, n in self.fully_rolled_out.items()
        ]
        return out or ["no stale flags"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def find_stale(
    references: Mapping[str, list[Reference]],
    defined: Mapping[str, datetime.datetime | None],
    days: int = 30,
    now: datetime.datetime | None = None,
) -> StaleReport:
    """defined: flag key -> when it became on for everyone (None if it is not)."""
    if days < 0:
        raise WorkshopError(f"--days {days} is negative", "give a number of days, 0 or more")
    now = now or datetime.datetime.now(datetime.UTC)
    report = StaleReport(days=days)
    report.unused = sorted(set(defined) - set(references))
    report.missing = {k: references[k] for k in sorted(set(references) - set(defined))}
    for key, since in sorted(defined.items()):
        if since is not None and (now - since).days > days:
            report.fully_rolled_out[key] = (now - since).days
    return report


def defined_flags() -> dict[str, datetime.datetime | None]:
    """The database's flags (through Django's connection: what this process's transaction
    sees): the workshop's, with when each became fully on, and waffle's (never "fully on" here:
    waffle does not record when)."""
    from workshop.django_setup import require_setup

    require_setup()
    from django.apps import apps

    from workshop.flags.models import FlagDefinition

    defined: dict[str, datetime.datetime | None] = {}
    if apps.is_installed("waffle"):  # waffle's flags, switches and samples are flags too
        from waffle.models import Flag, Sample, Switch

        for model in (Flag, Switch, Sample):
            defined.update(dict.fromkeys(model.objects.values_list("name", flat=True)))
    defined.update(FlagDefinition.objects.values_list("key", "fully_on_since"))
    return defined


def check(root: str | Path, days: int = 30) -> StaleReport:
    return find_stale(scan(root), defined_flags(), days)

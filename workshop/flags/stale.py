"""Flag debt: which flags does the code use, which does the database hold, which have been
on for everyone so long that the flag (and its dead branch) should go?

Python is read with `ast` (never imported or run): a flag is referenced where a known flag
call gets its name as a string literal, e.g. `request.flags.is_on("x")`, `flags.is_on("x",
user=u)`, `flags.override("x", True)`, `flag_is_active(request, "x")`, `sample_is_active("x")`,
`override_flag("x", True)`, `override_sample("x", active=True)`,
`client.get_boolean_value("x", False)`, or as a module-level constant (`RECOMMENDED = "x"`,
then `is_on(RECOMMENDED)`, or `ladder.RECOMMENDED` / `from ladder import RECOMMENDED` from
another scanned module). `override` counts only as the workshop's (imported from
workshop.flags, or called as `flags.override`): Django's `translation.override("fr")` is not a flag.
Templates and scripts (.html, .jinja, .jinja2, .j2, .js) are read with patterns: waffle's tags
(`{% flag "x" %}`, `{% switch "x" %}`, `{% sample "x" %}`), Jinja calls (`waffle.flag("x")`,
`request.flags.is_on("x")`, `flag_is_active(request, "x")`) and wafflejs
(`waffle.flag_is_active("x")`). Names built at run time cannot be seen; keep flag names
literal (which is one more reason the workshop rejects non-identifier names).
"""

from __future__ import annotations

import ast
import datetime
import re
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
    "override_sample": 0,
    "switch_is_active": 0,
    "sample_is_active": 0,
    "waffle_flag": 0,
    "waffle_switch": 0,
    "flag_is_active": 1,
}
WORKSHOP_FLAGS = ("workshop.flags", "workshop.flags.client")  # where the workshop's override() lives
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "migrations", ".workshop", "build", "dist"}
TEMPLATE_SUFFIXES = {".html", ".jinja", ".jinja2", ".j2", ".js"}
_QUOTED = r"""(["'])(?P<key>[^"'\s]+)\1"""
TEMPLATE_PATTERNS = [
    re.compile(r"\{%-?\s*(?:flag|switch|sample)\s+" + _QUOTED),  # waffle's template tags
    re.compile(r"\bwaffle\.(?:flag|switch|sample)(?:_is_active)?\(\s*" + _QUOTED),  # Jinja helpers, wafflejs
    re.compile(r"\b(?:is_on|is_off|switch_is_active|sample_is_active)\(\s*" + _QUOTED),
    re.compile(r"\bflag_is_active\(\s*\w+\s*,\s*" + _QUOTED),
]


@dataclass(frozen=True)
class Reference:
    key: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def references_in_source(
    source: str, path: str = "<string>", modules: Mapping[str, Mapping[str, str]] | None = None
) -> list[Reference]:
    """Flag names used in one module's source. modules: other modules' string constants by
    module name (the last part: "ladder"), for names like `ladder.RECOMMENDED`."""
    tree = _parse(source, path)
    modules = modules or {}
    constants = {**_imported_constants(tree, modules), **_string_constants(tree)}
    overrides, flags_modules = _workshop_override(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        position = FLAG_CALLS.get(name)
        if (isinstance(func, ast.Name) and func.id in overrides) or (
            name == "override" and isinstance(func, ast.Attribute) and _dotted(func.value) in flags_modules
        ):
            position = 0  # the workshop's override(key, on), under any name it was imported as
        if position is None:
            continue
        argument = (
            node.args[position]
            if len(node.args) > position
            else _keyword(node, ("key", "flag_key", "flag_name", "name"))
        )
        key = _flag_name(argument, constants, modules)
        if key is not None:
            found.append(Reference(key, path, node.lineno))
    return found


def references_in_template(text: str, path: str = "<string>") -> list[Reference]:
    """Flag names in a template or script, by the patterns of TEMPLATE_PATTERNS."""
    found = {
        Reference(match["key"], path, text.count("\n", 0, match.start()) + 1)
        for pattern in TEMPLATE_PATTERNS
        for match in pattern.finditer(text)
    }  # a set: `waffle.switch_is_active("x")` matches two patterns
    return sorted(found, key=lambda r: (r.line, r.key))


def _parse(source: str, path: str) -> ast.Module:
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as error:
        raise WorkshopError(
            f"{path}:{error.lineno}: not valid Python ({error.msg})", "fix the file or leave it out of the scan"
        ) from None


def _flag_name(argument, constants: Mapping[str, str], modules: Mapping[str, Mapping[str, str]]) -> str | None:
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    if isinstance(argument, ast.Name):
        return constants.get(argument.id)
    if isinstance(argument, ast.Attribute):  # ladder.RECOMMENDED, flags.ladder.RECOMMENDED
        module = argument.value
        stem = module.id if isinstance(module, ast.Name) else getattr(module, "attr", None)
        return modules.get(stem, {}).get(argument.attr)
    return None


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"`: flag names are often kept in such constants."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _imported_constants(tree: ast.Module, modules: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """`from workshop.flags.ladder import RECOMMENDED [as R]`, when ladder was scanned too."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            known = modules.get(node.module.rsplit(".", 1)[-1], {})
            for alias in node.names:
                if alias.name in known:
                    found[alias.asname or alias.name] = known[alias.name]
    return found


def _workshop_override(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The names this module binds to the workshop's override(), and to the workshop.flags
    modules (so that `flags.override(...)` counts)."""
    functions, flags_modules = set(), set(WORKSHOP_FLAGS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in WORKSHOP_FLAGS:
            functions.update(a.asname or a.name for a in node.names if a.name == "override")
        elif isinstance(node, ast.ImportFrom) and node.module == "workshop":
            flags_modules.update(a.asname or a.name for a in node.names if a.name == "flags")
        elif isinstance(node, ast.Import):
            flags_modules.update(a.asname for a in node.names if a.name in WORKSHOP_FLAGS and a.asname)
    return functions, flags_modules


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value)
        return f"{parent}.{node.attr}" if parent else None
    return None


def _keyword(node: ast.Call, names: tuple[str, ...]):
    return next((k.value for k in node.keywords if k.arg in names), None)


def source_files(root: Path) -> Iterable[Path]:
    """Python files, templates and scripts under root (or root itself, a file)."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if (path.suffix == ".py" or path.suffix in TEMPLATE_SUFFIXES) and path.is_file():
            if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
                yield path


def scan(root: str | Path) -> dict[str, list[Reference]]:
    """Every flag name referenced under `root` (a folder or one file), with where."""
    root = Path(root)
    if not root.exists():
        raise WorkshopError(f"{root} does not exist", "give a folder (or a file) of your code to scan")
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in source_files(root)}
    modules: dict[str, dict[str, str]] = {}
    for path, text in texts.items():
        if path.suffix == ".py":
            for name, value in _string_constants(_parse(text, str(path))).items():
                known = modules.setdefault(path.stem, {})
                known[name] = value if known.get(name, value) == value else None  # two modules, two values: unknown
    modules = {stem: {k: v for k, v in names.items() if v is not None} for stem, names in modules.items()}
    found: dict[str, list[Reference]] = {}
    for path, text in texts.items():
        refs = (
            references_in_source(text, str(path), modules)
            if path.suffix == ".py"
            else references_in_template(text, str(path))
        )
        for ref in refs:
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

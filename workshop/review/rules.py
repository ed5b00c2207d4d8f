"""The checks, one function per rule, each giving pass, warn or fail with its reason.

Thresholds are a dict of defaults (override any of them in `review(..., thresholds=...)`);
SOURCES says where each number comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workshop.review import lint, paths, secrets
from workshop.review.diff import Change
from workshop.review.template import check_description

THRESHOLDS = {
    "lines_warn": 400,  # changed lines (lock/generated/vendored files and notebook outputs left out)
    "lines_fail": 1000,
    "files_warn": 10,
    "files_fail": 25,
    "binary_warn_bytes": 100_000,
    "binary_fail_bytes": 1_000_000,
}
SOURCES = {
    "lines_warn": "review at most 200-400 lines at a time; beyond that, defect finding drops "
    "(SmartBear / Cisco code review study, 2006)",
    "lines_fail": "Google's median change is about 24 lines (Sadowski et al., Modern Code Review: "
    "A Case Study at Google, ICSE-SEIP 2018); 1,000 lines is 40 times that",
    "files_warn": "about 90% of changes at Google touch fewer than 10 files (Sadowski et al. 2018); the share "
    "of useful review comments falls as files per change grow (Bosu et al., MSR 2015)",
    "binary_fail_bytes": "binaries bloat every clone forever; GitHub warns at 50 MB and blocks at 100 MB "
    "per file: keep them in Git LFS or outside the repository",
}
PASS, WARN, FAIL = "pass", "warn", "fail"
ORDER = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass
class RuleResult:
    rule: str
    status: str
    reason: str
    findings: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, message)


def _status(value: float, warn: float, fail: float) -> str:
    return FAIL if value > fail else WARN if value > warn else PASS


def size(change: Change, t: dict) -> RuleResult:
    files = change.counted_files
    ignored = [f.path for f in change.files if not f.counted]
    status = max(
        _status(change.lines, t["lines_warn"], t["lines_fail"]),
        _status(len(files), t["files_warn"], t["files_fail"]),
        key=ORDER.get,
    )
    reason = (
        f"{change.lines:,} changed lines (+{change.added:,} -{change.removed:,}) in {len(files)} files; "
        f"limits {t['lines_warn']}/{t['lines_fail']} lines, {t['files_warn']}/{t['files_fail']} files "
        "(warn/fail)"
    )
    if ignored:
        reason += f"; not counted: {len(ignored)} lock/generated/vendored files"
    return RuleResult("size", status, reason)


def _needs_tests(change: Change, rule: str, files: list, what: str, fix: str) -> RuleResult:
    """Warn when `files` changed and no test file did (danger's "code without tests")."""
    if not files:
        return RuleResult(rule, PASS, f"no {what} changed")
    # A test file with added lines: deleting a test, or only removing lines, is not testing the change.
    tested = [f for f in change.of_kind("test") if f.status != "deleted" and f.added]
    if tested:
        return RuleResult(rule, PASS, f"{len(files)} {what} files and {len(tested)} test files changed")
    return RuleResult(
        rule,
        WARN,
        f"{len(files)} {what} files changed and no test: {fix}",
        [(f.path, 0, f"{what} changed without a test") for f in files],
    )


def tests(change: Change, t: dict) -> RuleResult:
    code = [f for f in change.of_kind("code") if f.added]
    return _needs_tests(change, "tests", code, "code", "add or update a test")


def migrations(change: Change, t: dict) -> RuleResult:
    changed = [f for f in change.of_kind("migration") if f.status != "deleted"]
    return _needs_tests(
        change,
        "migrations",
        changed,
        "migration",
        "test the schema or data change (a migration test, or the model's tests)",
    )


UNFINISHED = re.compile(r"(?i)^(fixup!|squash!|amend!|wip\b|\[wip\]|draft\b|tmp\b|do not merge)")


def commits(change: Change, t: dict) -> RuleResult:
    """Commits meant to be squashed or finished (`git commit --fixup`, WIP) should not be merged as they are."""
    unfinished = [(short, subject) for short, subject in change.commits if UNFINISHED.match(subject.strip())]
    if not unfinished:
        return RuleResult("commits", PASS, f"{len(change.commits)} commits, none marked fixup!, squash! or WIP")
    return RuleResult(
        "commits",
        WARN,
        f"{len(unfinished)} commits to squash or finish before merging (git rebase --interactive --autosquash)",
        [("", 0, f"{short} {subject}") for short, subject in unfinished],
    )


def lint_and_debug(change: Change, t: dict) -> list[RuleResult]:
    findings = lint.ruff_findings(change)
    style = [f for f in findings if f.code not in lint.DEBUG_RULES]
    debugger = [f for f in findings if f.code == "T100"]
    prints = [f for f in findings if f.code in ("T201", "T203") and _print_is_suspicious(f.path)]
    python = [f for f in change.files if paths.is_python(f.path) and not f.binary]
    lint_result = RuleResult(
        "lint",
        FAIL if style else PASS,
        f"{len(style)} findings the change introduces (ruff on the head against the base, and imports of removed names)"
        if style
        else f"ruff finds nothing new in {len(python)} changed Python files, and no import broken",
        [(f.path, f.line, f"{f.code} {f.message}") for f in style],
    )
    by_path = {f.path: f for f in change.files}
    js_debugger, js_logs = [], []
    for f in change.files:
        if f.path.endswith((".js", ".jsx", ".ts", ".tsx")):
            for n, line in f.added_lines:
                if line.strip() in ("debugger;", "debugger"):
                    js_debugger.append((f, n, "debugger statement left in"))
                elif "console.log(" in line:
                    js_logs.append((f, n, "console.log left in"))
    python_debugger = [(by_path[x.path], x.line, f"{x.code} {x.message}") for x in debugger if x.path in by_path]
    # A debugger statement fails the review in the project's own code; in a vendored or
    # generated file it is the upstream's (minified libraries ship them): a warning to look at.
    blocking = [d for d in python_debugger + js_debugger if d[0].counted]
    third_party = [
        (f, n, f"{m} (in a {f.not_counted} file)") for f, n, m in python_debugger + js_debugger if not f.counted
    ]
    stray_prints = [(by_path[x.path], x.line, f"{x.code} {x.message}") for x in prints if x.path in by_path]
    found = sorted(blocking + third_party + stray_prints + js_logs, key=lambda d: (d[0].path, d[1]))
    debug_findings = [(f.path, n, m) for f, n, m in found]
    status = FAIL if blocking else WARN if debug_findings else PASS
    reason = (
        f"{len(blocking)} debugger statements, {len(third_party)} in vendored/generated files, "
        f"{len(prints)} prints outside CLI/tests, {len(js_logs)} console.log"
        if debug_findings
        else "no new breakpoint, pdb, debugger statement or stray print"
    )
    return [lint_result, RuleResult("debug", status, reason, debug_findings)]


def _print_is_suspicious(path: str) -> bool:
    """print() is the job of CLIs, scripts, benchmarks and tests; elsewhere it is a leftover."""
    name = path.rsplit("/", 1)[-1]
    return not (
        paths.is_test(path)
        or name in ("cli.py", "__main__.py", "manage.py", "setup.py", "noxfile.py")
        or name.startswith("bench")
        or "/scripts/" in f"/{path}"
        or "/bin/" in f"/{path}"
    )


def binaries(change: Change, t: dict) -> RuleResult:
    found = [f for f in change.files if f.binary and f.status != "deleted"]
    large = [f for f in found if f.size > t["binary_warn_bytes"]]
    if not large:
        return RuleResult(
            "binaries",
            PASS,
            f"{len(found)} binary files, none over {t['binary_warn_bytes']:,} bytes"
            if found
            else "no binary file added",
        )
    status = FAIL if any(f.size > t["binary_fail_bytes"] for f in large) else WARN
    return RuleResult(
        "binaries",
        status,
        f"{len(large)} binary files over {t['binary_warn_bytes']:,} bytes: "
        "use Git LFS or keep them out of the repository",
        [(f.path, 0, f"{f.size:,} bytes") for f in large],
    )


def secret_strings(change: Change, t: dict) -> RuleResult:
    found = secrets.scan(change.files)
    if not found:
        return RuleResult("secrets", PASS, "no key format or secret-like value on added lines")
    return RuleResult(
        "secrets",
        FAIL,
        f"{len(found)} strings look like secrets: remove them, rotate the keys, read them from the environment",
        [(s.path, s.line, f"{s.rule} ({s.excerpt})") for s in found],
    )


def notebooks(change: Change, t: dict) -> RuleResult:
    stored = [f for f in change.of_kind("notebook") if f.outputs]
    if not stored:
        return RuleResult(
            "notebooks",
            PASS,
            "notebooks stored without outputs" if change.of_kind("notebook") else "no notebook changed",
        )
    return RuleResult(
        "notebooks",
        FAIL,
        f"{len(stored)} notebooks stored with outputs: strip them (nbstripout, or the pre-commit hook)",
        [(f.path, 0, f"{f.outputs} outputs") for f in stored],
    )


def description(change: Change, t: dict, text: str | None, template: tuple[str, str] | None) -> RuleResult:
    if text is None:
        if template is None:
            return RuleResult("description", PASS, "no PR template in the repository and no description given")
        return RuleResult(
            "description", WARN, f"no description given to check against {template[0]} (pass --description FILE)"
        )
    if not text.strip():
        return RuleResult("description", FAIL, "the description is empty: say what changes and why")
    if template is None:
        return RuleResult("description", PASS, "described (no PR template to check against)")
    check = check_description(text, template[1])
    problems = []
    if check.own_words < 5:
        problems.append("it says nothing beyond the template: describe what changes and why")
    if check.wip:
        problems.append("its title says WIP/draft")
    status = FAIL if problems else WARN if check.open_items else PASS
    reason = "; ".join(problems) or (
        f"checklist {check.completeness:.0%} complete"
        + (f", open: {', '.join(check.open_items)}" if check.open_items else "")
    )
    return RuleResult("description", status, reason, [(template[0], 0, f"not ticked: {i}") for i in check.open_items])

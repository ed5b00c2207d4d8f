"""Chapter 01's exercises, declared once (workshop.lessons): split a branch into a stack,
describe a pull request, write a review rule. Each checker works on its own copy of the
chapter's example repositories (made on the spot, the same every run), never on a stored
answer. The solutions are in solutions.py.
"""

from __future__ import annotations

import functools
import re

from workshop.lessons import Exercise, Exercises, Wrong
from workshop.review import paths, solutions
from workshop.review.analyze import review
from workshop.review.examples import (
    SECURITY_OWNED,
    SECURITY_TEAM,
    Builder,
    demo_repository,
    split_exercise_repository,
    temporary_folder,
)
from workshop.review.git import Repo, text
from workshop.review.rules import FAIL, PASS
from workshop.review.split import imports_of
from workshop.review.stack import commit_stack
from workshop.review.template import NOT_APPLICABLE, checklist, normalize

SOURCE = "feature/shop"


@functools.cache
def _split_repository():
    return split_exercise_repository(temporary_folder("workshop-review-check-split-") / "shop")


@functools.cache
def _demo():
    return demo_repository(temporary_folder("workshop-review-check-demo-") / "demo")


# --- 1. split an oversized branch into a stack ----------------------------------------------


def _groups(answer) -> list[list[str]]:
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (list, tuple)) or not answer:
        raise Wrong("the answer is a list of groups of file paths, one group per pull request, in merge order")
    for group in answer:
        if isinstance(group, (str, bytes)) or not isinstance(group, (list, tuple)) or not group:
            raise Wrong(f"{group!r} is not a group: each pull request is a non-empty list of file paths")
        if not all(isinstance(name, str) for name in group):
            raise Wrong(f"{group!r}: file paths are strings, e.g. 'shop/taxes.py'")
    return [list(group) for group in answer]


def _check_1(answer) -> None:
    groups = _groups(answer)
    path = _split_repository()
    repo = Repo.open(path)
    changed = set(text(repo.git("diff", "--name-only", f"main...{SOURCE}", "--")).split())
    given = [name for group in groups for name in group]
    unknown = sorted(set(given) - changed)
    if unknown:
        raise Wrong(f"{unknown[0]} is not a file {SOURCE} changes")
    twice = sorted({name for name in given if given.count(name) > 1})
    if twice:
        raise Wrong(f"{twice[0]} is in more than one pull request: each changed file goes in exactly one")
    left = sorted(changed - set(given))
    if left:
        raise Wrong(f"the stack does not add up to {SOURCE}: {', '.join(left[:3])} are in no pull request")
    branches = commit_stack(path, SOURCE, groups)
    previous, sizes = "main", []
    for branch, group in zip(branches, groups):
        report = review(path, base=previous, head=branch)
        size = report.result("size")
        if size.status != PASS:
            raise Wrong(f"{branch} is still too large to review in one sitting ({size.reason})")
        failed = [r.rule for r in report.results if r.status == FAIL]
        if failed:
            raise Wrong(f"{branch} fails {', '.join(failed)}")
        untested = [f.path for f in report.change.of_kind("code") if _test_of(f.path) not in group]
        if untested:
            raise Wrong(
                f"{branch} has {untested[0]} without its test: a reviewer should see code and its test together"
            )
        missing = _missing_imports(repo, report.change, repo.commit(SOURCE))
        if missing:
            raise Wrong(
                f"{branch} imports {missing[0]}, which no earlier pull request adds: merged in this order, "
                "main would break until a later one lands"
            )
        owned = [name for name in group if name in SECURITY_OWNED]
        if owned and len(owned) < len(group):
            other = next(name for name in group if name not in SECURITY_OWNED)
            raise Wrong(
                f"{branch} makes {SECURITY_TEAM} (CODEOWNERS) review {other} along with {owned[0]}: "
                "give them a pull request with only what they must approve"
            )
        sizes.append((report.change.lines, bool(owned)))
        previous = branch
    for number in range(1, len(sizes)):
        (lines_a, owned_a), (lines_b, owned_b) = sizes[number - 1], sizes[number]
        if not owned_a and not owned_b and _fits(lines_a + lines_b):
            raise Wrong(
                f"split/{number} and split/{number + 1} together are {lines_a + lines_b} lines, small enough for "
                "one pull request: every extra one costs a review round trip"
            )


def _test_of(code: str) -> str:
    return f"tests/test_{code.rsplit('/', 1)[-1]}"


def _fits(lines: int) -> bool:
    from workshop.review.rules import THRESHOLDS

    return lines <= THRESHOLDS["lines_warn"]


def _missing_imports(repo: Repo, change, source: str) -> list[str]:
    """Modules the part's Python files import that exist on `source` but not in the part."""
    python = [f for f in change.files if paths.is_python(f.path) and f.status != "deleted"]
    sources = repo.blobs([f.new_blob for f in python])
    modules = {m for f in python for m in imports_of(sources.get(f.new_blob) or b"")}
    files = {m: (f"{m.replace('.', '/')}.py", f"{m.replace('.', '/')}/__init__.py") for m in modules}
    specs = [f"{commit}:{name}" for names in files.values() for name in names for commit in (source, change.head)]
    found = repo.sizes(specs)
    return sorted(
        m
        for m, names in files.items()
        if any(found.get(f"{source}:{n}") is not None for n in names)
        and not any(found.get(f"{change.head}:{n}") is not None for n in names)
    )


# --- 2. describe a pull request ---------------------------------------------------------------

DOCS_KINDS = ("docs", "notebook")


def _check_2(answer) -> None:
    if not isinstance(answer, str) or not answer.strip():
        raise Wrong("the answer is the description, as a string (start from the template printed above)")
    path = _demo()
    report = review(path, head="feature/discount", description=answer)
    result = report.result("description")
    if result.status != PASS:
        raise Wrong(f"the description check says {result.status}: {result.reason}")
    change = report.change
    for item in checklist(answer):
        marked_na = bool(NOT_APPLICABLE.search(_without_template_words(item.text)))
        if item.ticked and marked_na:
            raise Wrong(f"'{_short(item.text)}' is both ticked and marked N/A: it either applies or it does not")
        about = normalize(item.text)
        if about.startswith("documentation") and item.ticked and not change.of_kind(*DOCS_KINDS):
            raise Wrong(
                f"'{_short(item.text)}' is ticked, but the branch changes no README, docs or notebook: "
                "a box ticked for something not done teaches reviewers to ignore the boxes"
            )
        if about.startswith(("tests", "no debugging")) and marked_na:
            raise Wrong(f"'{_short(item.text)}' applies to every change with code: check it and tick it, not N/A")
        if about.startswith("tests") and item.ticked and not change.of_kind("test"):
            raise Wrong(f"'{_short(item.text)}' is ticked, but the branch changes no test")
        if about.startswith("no debugging") and item.ticked and report.result("debug").status != PASS:
            raise Wrong(f"'{_short(item.text)}' is ticked, but the debug rule finds leftovers on the branch")
    names = _what_changes(change)
    own = set(normalize(_without_checklist(answer)).split())
    if not any(word.startswith(name[:6]) for word in own for name in names):
        raise Wrong("it does not say what changes: name the function or the module the branch changes, and why")


def _without_template_words(item: str) -> str:
    return re.sub(r"(?i)\(or n/a\)", "", item)


def _without_checklist(markdown: str) -> str:
    return "\n".join(line for line in markdown.splitlines() if not re.match(r"^\s*[-*+]\s+\[", line))


def _short(item: str) -> str:
    return item if len(item) <= 40 else item[:37] + "..."


def _what_changes(change) -> set[str]:
    """The names a description should mention: changed code modules and the functions they add."""
    names = set()
    for f in change.of_kind("code"):
        names.add(f.path.rsplit("/", 1)[-1].removesuffix(".py"))
        names.update(m.group(1) for _, line in f.added_lines for m in [re.match(r"\s*def (\w+)", line)] if m)
    return {n.lower() for n in names}


# --- 3. a review rule of your own ----------------------------------------------------------------

# (line, whether the rule must report it): TODO and FIXME comments without an issue number.
ADDED = (
    ("def refund(cents: int) -> int:", False),
    ("    # TODO: refunds of discounted items", True),
    ("    # TODO(#42): cache the rate", False),
    ('    label = "TODO list"', False),
    ("    return -cents  # FIXME rounding", True),
    ("    # See #17: FIXME once the new gateway is live", False),
)
OLD_TODO = "# TODO: speed this up (an old line nobody touches in this change)"


def _rule_repository(padding: int):
    """main holds an untouched TODO; branch `feature/refunds` adds ADDED lines after `padding`
    lines of code, and a test file with one TODO of its own."""
    root = temporary_folder("workshop-review-check-rule-") / "repo"
    b = Builder(root)
    body = "".join(f"RATE_{i} = {i}\n" for i in range(padding))
    b.commit("Cart", {"shop/__init__.py": "", "shop/cart.py": f"{OLD_TODO}\n{body}"})
    b.branch("feature/refunds")
    added = "\n".join(line for line, _ in ADDED) + "\n"
    test = "def test_refund():\n    # TODO: refunds of zero\n    assert True\n"
    b.commit("Refunds", {"shop/cart.py": f"{OLD_TODO}\n{body}\n\n{added}", "tests/test_cart.py": test})
    start = 1 + padding + 3  # the old TODO, the padding, two blank lines, then ADDED
    expected = {("shop/cart.py", start + i) for i, (_, flag) in enumerate(ADDED) if flag}
    return root, expected | {("tests/test_cart.py", 2)}


def _check_3(answer) -> None:
    if not callable(answer):
        raise Wrong("the answer is a function: it takes a change and returns (path, line number) pairs")
    for padding in (3, 11):  # two branches: the line numbers must come from the change, not from memory
        root, expected = _rule_repository(padding)
        change = review(root, head="feature/refunds").change
        found = answer(change)
        if found is None or isinstance(found, (str, bytes)):
            raise Wrong("the rule returns nothing usable: return a list of (path, line number) pairs")
        try:
            found = {(str(path), int(line)) for path, line in found}
        except (TypeError, ValueError):
            raise Wrong("each finding is a (path, line number) pair, e.g. ('shop/cart.py', 12)") from None
        old = ("shop/cart.py", 1)
        if old in found:
            raise Wrong("it reports a TODO the change did not add: look only at the lines the branch adds")
        extra, missed = found - expected, expected - found
        if extra:
            path, line = sorted(extra)[0]
            wrote = _line_of(root, path, line)
            raise Wrong(f"it reports {path} line {line} ({wrote.strip()!r}), which is not a TODO or FIXME left open")
        if missed:
            raise Wrong(
                f"it misses {len(missed)} of the {len(expected)} open TODO/FIXME comments the branch adds "
                "(comments in tests and at the end of a line count too)"
            )


def _line_of(root, path: str, line: int) -> str:
    lines = text(Repo.open(root).git("show", f"feature/refunds:{path}")).splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else "no such line"


EXERCISES = Exercises(
    "01",
    [
        Exercise(
            1,
            "Split an oversized branch into a stack",
            minutes=7,
            checker=_check_1,
            hints=(
                "The report's split proposal is sized right, but read the repository's CODEOWNERS first: "
                "who must approve payments, and what else is in their pull request?",
                "Order the groups so that each module comes after the modules it imports "
                "(open the files: look at their `from shop... import` lines), keep each test with its "
                "module, and fill each pull request up to the size limit.",
            ),
            solution=solutions.solution_1,
            explain="each pull request can be reviewed by the right people in one sitting, "
            "and merged in order without breaking main",
        ),
        Exercise(
            2,
            "Describe a pull request",
            minutes=5,
            checker=_check_2,
            hints=(
                "Tick only what the branch did: look at the files it changes (review(demo, "
                "head='feature/discount').change.files) before you tick a box.",
                "An item that does not apply gets `N/A` after its text and no tick; the items that end "
                "with '(or N/A)' may be ticked or marked N/A. Then one or two sentences: what changes, and why.",
            ),
            solution=solutions.solution_2,
            explain="a description that tells the truth lets the reviewer skip what does not apply and check what does",
        ),
        Exercise(
            3,
            "Write a review rule",
            minutes=6,
            checker=_check_3,
            hints=(
                "Loop over change.files; each has .path and .added_lines, a list of (line number, text) "
                "for the lines the branch adds: nothing else is the author's to fix.",
                "A line counts when it has '#' followed (later on the line) by TODO or FIXME, and no "
                "issue number like #42 after the '#'. re.search is enough.",
            ),
            solution=solutions.solution_3,
            explain="rules that look only at added lines ask authors to fix what they wrote, "
            "which is why checkers like reviewdog filter findings by the diff",
        ),
    ],
)
check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal

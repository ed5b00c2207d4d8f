"""Chapter 01's exercises: each solution passes, the placeholder fails, and every lazy answer a
learner would try fails with a sentence (issue 21's trivial answers included)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.lessons_support import assert_exercise
from workshop.review import review, solutions
from workshop.review.examples import PR_TEMPLATE, SPLIT_MODULES, split_exercise_repository
from workshop.review.exercises import ADDED, EXERCISES
from workshop.review.template import check_description


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return split_exercise_repository(tmp_path_factory.mktemp("split") / "shop")


@pytest.fixture(scope="module")
def changed(shop):
    out = subprocess.run(["git", "-C", str(shop), "diff", "--name-only", "main...feature/shop"], capture_output=True)
    return sorted(out.stdout.decode().split())


def _module(name):
    return [f"shop/{name}.py", f"tests/test_{name}.py"]


def _message(number, answer):
    verdict = EXERCISES[number].judge(answer)
    assert not verdict.ok, answer
    return verdict.message


def test_split_lazy_answers_fail(shop, changed):
    proposal = [[f.path for f in part.files] for part in review(shop, head="feature/shop").split]
    assert len(proposal) > 1
    assert_exercise(
        EXERCISES,
        1,
        [
            ("None", lambda: None),
            ("an empty list", lambda: []),
            ("one string", lambda: "shop/taxes.py"),
            ("the report's own split proposal", lambda: proposal),
            ("one file per part, alphabetically", lambda: [[name] for name in changed]),
            ("each module with its test, alphabetically", lambda: [_module(m) for m in sorted(SPLIT_MODULES)]),
            ("each module with its test, in import order", lambda: [_module(m) for m in SPLIT_MODULES]),
            ("everything in one pull request", lambda: [changed]),
            ("a file left out", lambda: solutions.solution_1()[:-1]),
            ("the solution's parts in reverse order", lambda: solutions.solution_1()[::-1]),
        ],
    )


def test_split_verdicts_say_what_is_wrong(shop, changed):
    proposal = [[f.path for f in part.files] for part in review(shop, head="feature/shop").split]
    assert "@shop/security" in _message(1, proposal)  # the proposal mixes payments with another module
    # Alphabetical order breaks the imports: catalog needs taxes, which would come last.
    assert "imports shop.taxes" in _message(1, [_module(m) for m in sorted(SPLIT_MODULES)])
    assert "without its test" in _message(1, [[name] for name in changed])
    assert "small enough for one pull request" in _message(1, [_module(m) for m in SPLIT_MODULES])
    assert "too large" in _message(1, [changed])
    assert "in no pull request" in _message(1, solutions.solution_1()[:-1])
    assert "more than one" in _message(1, [*solutions.solution_1(), ["shop/taxes.py"]])
    assert "not a file" in _message(1, [["shop/nothing.py"]])


def _template_with(docs="- [ ]", tests="- [ ]", debug="- [ ]", migrations="- [ ]", words=""):
    lines = PR_TEMPLATE.replace("- [ ] Tests", f"{tests} Tests").replace("- [ ] Documentation", f"{docs} Documentation")
    lines = lines.replace("- [ ] No debugging", f"{debug} No debugging").replace(
        "- [ ] Migrations", f"{migrations} Migrations"
    )
    return f"{words}\n\n{lines}"


ALL_TICKED = _template_with("- [x]", "- [x]", "- [x]", "- [x]", "Lorem ipsum dolor sit amet")


def test_description_lazy_answers_fail():
    assert_exercise(
        EXERCISES,
        2,
        [
            ("None", lambda: None),
            ("an empty string", lambda: ""),
            ("the template as it is", lambda: PR_TEMPLATE),
            ("every box ticked plus five made-up words", lambda: ALL_TICKED),
            ("five made-up words alone", lambda: "Lorem ipsum dolor sit amet"),
            ("every item N/A plus words", lambda: ALL_TICKED.replace("- [x]", "- [ ]").replace(")\n", ") N/A\n")),
            (
                "the right ticks, made-up words",
                lambda: solutions.solution_2().split("## Checklist")[1] + "\nLorem ipsum dolor sit amet consectetur",
            ),
            (
                "documentation ticked as well",
                lambda: solutions.solution_2().replace("- [ ] Documentation", "- [x] Documentation"),
            ),
            ("tests marked N/A", lambda: solutions.solution_2().replace("passes\n", "passes N/A\n")),
            ("a list", lambda: [solutions.solution_2()]),
        ],
    )


def test_description_verdicts_are_consistent():
    assert "Documentation updated" in _message(2, ALL_TICKED) and "no README" in _message(2, ALL_TICKED)
    words_only = _message(2, "Lorem ipsum dolor sit amet")
    assert "0% complete" in words_only and "100%" not in words_only  # no "100% complete, open: <all items>"
    both = solutions.solution_2().replace("- [ ] Migrations", "- [x] Migrations")
    assert "both ticked and marked N/A" in _message(2, both)


@pytest.mark.parametrize(
    "migrations",
    [
        "- [x] Migrations come with a test (or N/A)",
        "- [ ] Migrations come with a test (or N/A) N/A",
        "- [ ] Migrations come with a test (or N/A) n/a",
        "- [ ] ~~Migrations come with a test (or N/A)~~",
    ],
)
def test_an_or_na_item_may_be_ticked_or_marked_na(migrations):
    answer = re.sub(r"- \[ \] Migrations.*", lambda _: migrations, solutions.solution_2())
    assert EXERCISES[2].judge(answer).ok, EXERCISES[2].judge(answer).message


def test_the_description_check_counts_deleted_items_as_open():
    check = check_description("Lorem ipsum dolor sit amet", PR_TEMPLATE)
    assert check.completeness == 0 and len(check.open_items) == 4
    na = check_description("- [ ] Migrations come with a test (or N/A) N/A", PR_TEMPLATE)
    assert [i.not_applicable for i in na.items] == [True]
    plain = check_description("- [ ] Migrations come with a test (or N/A)", PR_TEMPLATE)
    assert [i.done for i in plain.items] == [False]  # the template's own "(or N/A)" is no mark


def _flag(predicate):
    def rule(change):
        return [(f.path, n) for f in change.files for n, line in f.added_lines if predicate(line)]

    return rule


def test_rule_lazy_answers_fail():
    def whole_files(change):  # reads the files, not the change: reports the untouched old TODO
        found = []
        for f in change.files:
            body = change.repo.git("show", f"{change.head}:{f.path}").decode()
            found += [(f.path, n) for n, line in enumerate(body.splitlines(), 1) if "TODO" in line or "FIXME" in line]
        return found

    first_lines = [("shop/cart.py", 6 + i) for i, (_, flagged) in enumerate(ADDED) if flagged]
    assert_exercise(
        EXERCISES,
        3,
        [
            ("None", lambda: None),
            ("a rule that finds nothing", lambda: lambda change: []),
            ("a rule that reports every added line", lambda: _flag(lambda line: True)),
            (
                "every added line with TODO or FIXME in it",
                lambda: _flag(lambda line: "TODO" in line or "FIXME" in line),
            ),
            ("comments with TODO, issue numbers not excepted", lambda: _flag(lambda line: re.search(r"#.*TODO", line))),
            ("the whole files instead of the added lines", lambda: whole_files),
            ("hard-coded line numbers", lambda: lambda change: [*first_lines, ("tests/test_cart.py", 2)]),
            ("a rule that returns text", lambda: lambda change: "shop/cart.py:6"),
        ],
    )


def test_rule_verdicts_say_what_is_wrong():
    assert "not a TODO or FIXME left open" in _message(3, _flag(lambda line: True))
    assert "misses 3 of the 3" in _message(3, lambda change: [])
    string = _message(3, _flag(lambda line: "TODO" in line or "FIXME" in line))
    assert "TODO list" in string or "#42" in string

"""A local pull request checker ("Pull requests" notebook).

    from workshop.review import review
    report = review("path/to/repo", base="main")   # the current branch against main
    print(report)                                   # pass / warn / fail per rule, with reasons

Modules: git (the git CLI, safely), paths (what kind of file), diff (the change: names from
`git diff --raw -z`, lines from the patch), change (which commits to compare), lint (what the
change introduced: ruff on head against base, broken imports), secrets, template
(PR template checklist), rules, split (a stack of smaller PRs), report, history (a
repository's change sizes over time), examples (demo repositories), exercises, widgets.
Nothing here needs Django: it works on any local git repository.
"""

from workshop.review.analyze import review
from workshop.review.report import Report
from workshop.review.rules import SOURCES, THRESHOLDS

__all__ = ["review", "Report", "THRESHOLDS", "SOURCES"]

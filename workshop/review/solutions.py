"""Solutions to the notebook's exercises (kept out of the notebook; the tests run them)."""

from __future__ import annotations

import os

from workshop.review.analyze import review
from workshop.review.stack import commit_stack
from workshop.review.template import template_text


def split_solution(path: str | os.PathLike, source: str = "feature/shop", base: str = "main") -> list[str]:
    """Exercise 1: take the checker's own split proposal and build it as a stack."""
    report = review(path, base=base, head=source)
    return commit_stack(path, source, [[f.path for f in part.files] for part in report.split], base=base)


def description_solution(path: str | os.PathLike) -> str:
    """Exercise 2: the template, filled in and ticked."""
    report = review(path, head="feature/discount")
    _, template = template_text(report.change.repo, report.change.head)
    filled = template.replace("- [ ]", "- [x]").replace(
        "<!-- What does this change do, and why is it needed? Link the issue. -->",
        "Adds `discounted(cents, percent)`: the shop needs percentage discounts for the sale. "
        "Rounded down to the cent so the shop never charges more than the advertised price. Closes #12.",
    )
    return "Prices: discounts, rounded down\n\n" + filled

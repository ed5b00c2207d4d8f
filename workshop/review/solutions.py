"""Solutions to chapter 01's exercises (kept out of the notebook; `reveal(n)` shows one,
the tests run them all)."""

from __future__ import annotations

import re


def solution_1() -> list[list[str]]:
    """Each module after the modules it imports, each test with its module, payments alone
    (CODEOWNERS sends it to the security team), the rest packed two modules (~300 lines) a pull request."""
    return [
        ["shop/taxes.py", "tests/test_taxes.py", "shop/catalog.py", "tests/test_catalog.py"],
        ["shop/orders.py", "tests/test_orders.py", "shop/invoices.py", "tests/test_invoices.py"],
        ["shop/payments.py", "tests/test_payments.py"],
        ["shop/reports.py", "tests/test_reports.py"],
    ]


def solution_2() -> str:
    """What the branch did, ticked; what does not apply to it, N/A; what changes and why, in words."""
    return """Prices: discounts, rounded down

## What and why

Adds `discounted(cents, percent)` to shop/prices.py: the sale needs percentage discounts.
It rounds down to the cent, so a customer never pays more than the advertised price,
and refuses a percentage outside 0-100. Closes #12.

## Checklist

- [x] Tests added or updated, and `make test` passes
- [ ] Documentation updated (README, docs/, notebooks) N/A: an internal function, no user-facing docs
- [x] No debugging leftovers (print, breakpoint, pdb)
- [ ] Migrations come with a test (or N/A) N/A: no migration
"""


def solution_3():
    """Only the lines the branch adds; a comment (#) with TODO or FIXME and no issue number."""
    todo = re.compile(r"#.*\b(TODO|FIXME)\b")
    issue = re.compile(r"#\d+")

    def open_todos(change):
        found = []
        for f in change.files:
            for number, line in f.added_lines:
                if todo.search(line) and not issue.search(line):
                    found.append((f.path, number))
        return found

    return open_todos

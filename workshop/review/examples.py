"""Small git repositories made on the spot, always the same: the notebook's demo, the
exercise, the tests and the benchmark use them. Nothing is downloaded.

demo_repository(): a tiny shop package on `main`, a PR template, and two branches:
`feature/discount` (small, tested, clean) and `feature/everything` (too large, with a stray
breakpoint, an unused import, a key-shaped string, a lock file, a binary and a notebook
with outputs).
"""

from __future__ import annotations

import atexit
import json
import random
import shutil
import tempfile
from pathlib import Path

from workshop.review.git import Repo, run

AUTHOR = {
    "GIT_AUTHOR_NAME": "Ada Reviewer",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Reviewer",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}
START = 1_735_725_600  # 2025-01-01 10:00 UTC: commits get fixed dates, so ids are the same on every run

PR_TEMPLATE = """\
## What and why

<!-- What does this change do, and why is it needed? Link the issue. -->

## Checklist

- [ ] Tests added or updated, and `make test` passes
- [ ] Documentation updated (README, docs/, notebooks)
- [ ] No debugging leftovers (print, breakpoint, pdb)
- [ ] Migrations come with a test (or N/A)
"""

RUFF_CONFIG = """\
[project]
name = "shop"
version = "0.1.0"

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B"]
"""

PRICES = '''\
"""Prices in cents, so that sums are exact."""


def with_tax(cents: int, rate_percent: int = 20) -> int:
    """The price with tax, rounded half up to the cent."""
    return (cents * (100 + rate_percent) + 50) // 100
'''

TEST_PRICES = """\
from shop.prices import with_tax


def test_with_tax_rounds_half_up():
    assert with_tax(999) == 1199
"""

DISCOUNT = '''

def discounted(cents: int, percent: int) -> int:
    """The price after a discount of `percent` (0-100), rounded down to the cent."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a discount is between 0 and 100 percent, not {percent}")
    return cents * (100 - percent) // 100
'''

TEST_DISCOUNT = """

def test_discount_rounds_down():
    from shop.prices import discounted

    assert discounted(999, 10) == 899
    assert discounted(999, 0) == 999
"""

MODULES = {  # module: the modules it imports (the split proposal must put those first)
    "catalog": [],
    "orders": ["catalog"],
    "payments": ["orders"],
    "reports": ["orders", "payments"],
}


def module_source(name: str, functions: int, imports: list[str]) -> str:
    """A plausible module of `functions` small functions (about 9 lines each)."""
    lines = [f'"""The shop\'s {name}."""', "", *[f"from shop.{dep} import {dep}_total_0" for dep in imports]]
    lines += ["", ""]
    for i in range(functions):
        lines += [
            f"def {name}_total_{i}(items: list[tuple[str, int]], minimum: int = {i}) -> int:",
            f'    """The sum of the {name} amounts of at least `minimum` cents (rule {i})."""',
            "    total = 0",
            "    for _label, cents in items:",
            "        if cents >= minimum:",
            "            total += cents",
            "    return total" + "".join(f" + {dep}_total_0(items)" for dep in imports if i == 0),
            "",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def test_source(name: str, functions: int) -> str:
    lines = [f"from shop import {name}", "", ""]
    for i in range(functions):
        lines += [
            f"def test_{name}_total_{i}():",
            f"    assert {name}.{name}_total_{i}([('a', {i + 5}), ('b', 1)]) >= {i + 5}",
            "",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def temporary_folder(prefix: str) -> Path:
    """A new folder for a demo repository, removed when the Python process (the kernel) ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


class Builder:
    """Commits files to a new repository with fixed authors and dates."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        run(path, "init", "--quiet", "--initial-branch=main")
        self.repo = Repo(path.resolve())
        self.clock = START

    def git(self, *args: str) -> str:
        date = f"@{self.clock} +0000"
        done = run(self.repo.root, *args, env={**AUTHOR, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        return done.stdout.decode("utf-8", "replace").strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for name, content in files.items():
            target = self.repo.root / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())

    def commit(self, message: str, files: dict[str, str | bytes | None], hours: float = 3) -> str:
        self.write(files)
        self.clock += int(hours * 3600)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "--quiet", "-B", name, start)


def shop_main(b: Builder) -> None:
    b.commit(
        "Shop: prices with tax, tested",
        {
            "pyproject.toml": RUFF_CONFIG,
            "shop/__init__.py": "",
            "shop/prices.py": PRICES,
            "tests/test_prices.py": TEST_PRICES,
            ".github/pull_request_template.md": PR_TEMPLATE,
            "README.md": "# Shop\n\nPrices, orders and payments.\n",
        },
    )


def _notebook_with_outputs() -> str:
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": ["1 + 1"],
        "outputs": [
            {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": ["2"]}}
        ],
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def demo_repository(path: str | Path | None = None) -> Path:
    """The notebook's demo repository (a new temporary folder unless `path` is given)."""
    root = Path(path) if path else temporary_folder("workshop-review-demo-")
    b = Builder(root)
    shop_main(b)
    b.branch("feature/discount")
    b.commit(
        "Prices: discounts, rounded down",
        {"shop/prices.py": PRICES + DISCOUNT, "tests/test_prices.py": TEST_PRICES + TEST_DISCOUNT},
    )
    b.branch("feature/everything", "main")
    sources = {f"shop/{name}.py": module_source(name, 24, deps) for name, deps in MODULES.items()}
    b.commit("Catalog, orders, payments and reports", sources)
    leftovers = (
        sources["shop/payments.py"]
        .replace("    total = 0\n", "    total = 0\n    breakpoint()\n", 1)
        .replace('"""\n\n', '"""\n\nimport os\n', 1)
    )
    # A key in the shape of a live Stripe key, built here so that this file holds none.
    key_line = 'STRIPE_API_KEY = "' + "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc" + '"\n'
    rng = random.Random(7)
    b.commit(
        "Payments: try the live key; lock file; screenshot; exploration notebook",
        {
            "shop/payments.py": leftovers + "\n" + key_line,
            "poetry.lock": "".join(f'[[package]]\nname = "pkg{i}"\nversion = "1.{i}.0"\n\n' for i in range(150)),
            "docs/screenshot.png": b"\x89PNG\r\n\x1a\n" + rng.randbytes(300_000),
            "notebooks/explore.ipynb": _notebook_with_outputs(),
        },
    )
    b.git("checkout", "--quiet", "main")
    return b.repo.root


# The split exercise's modules: the order they import each other in is not alphabetical.
SPLIT_MODULES = {
    "taxes": [],
    "catalog": ["taxes"],
    "orders": ["catalog"],
    "payments": ["orders"],
    "invoices": ["orders", "taxes"],
    "reports": ["invoices", "payments"],
}
SECURITY_TEAM = "@shop/security"
SECURITY_OWNED = ("shop/payments.py", "tests/test_payments.py")  # CODEOWNERS gives them to SECURITY_TEAM
SPLIT_CODEOWNERS = (
    "# Who must approve a pull request that touches a file (GitHub: the last matching line wins)\n"
    "*  @shop/developers\n" + "".join(f"/{path}  {SECURITY_TEAM}\n" for path in SECURITY_OWNED)
)


def split_exercise_repository(path: str | Path | None = None) -> Path:
    """The exercise: `feature/shop` adds six modules and their tests, about 900 lines, clean
    but too large to review in one sitting; CODEOWNERS sends payments to the security team."""
    root = Path(path) if path else temporary_folder("workshop-review-split-")
    b = Builder(root)
    shop_main(b)
    b.commit(
        "CODEOWNERS: payments need the security team's approval; ruff knows shop is ours",
        {
            ".github/CODEOWNERS": SPLIT_CODEOWNERS,
            "pyproject.toml": RUFF_CONFIG + '\n[tool.ruff.lint.isort]\nknown-first-party = ["shop"]\n',
        },
    )
    b.branch("feature/shop")
    files = {}
    for name, deps in SPLIT_MODULES.items():
        files[f"shop/{name}.py"] = module_source(name, 14, deps)
        files[f"tests/test_{name}.py"] = test_source(name, 5)
    b.commit("Taxes, catalog, orders, payments, invoices and reports, with tests", files)
    b.git("checkout", "--quiet", "main")
    return b.repo.root

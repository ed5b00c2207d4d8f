"""The repository's pull request template, and a description checked against it: every
checklist item of the template must be in the description, ticked (or marked N/A), and the
description must say something beyond the template."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from workshop.review.git import Repo, name

# Where GitHub looks for a single template (case-insensitive), in its order.
TEMPLATE_PLACES = (
    ".github/pull_request_template.md",
    "pull_request_template.md",
    "docs/pull_request_template.md",
    ".github/PULL_REQUEST_TEMPLATE/default.md",
)
CHECKBOX = re.compile(r"^\s*[-*+]\s+\[(?P<mark>[ xX])\]\s+(?P<text>.+?)\s*$")
NOT_APPLICABLE = re.compile(r"(?i)\bn/?a\b|not applicable|~~.+~~")
WIP = re.compile(r"(?i)\b(wip|work in progress|do not merge|don't merge|draft)\b")
COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True)
class Item:
    text: str
    ticked: bool
    not_applicable: bool = False

    @property
    def done(self) -> bool:
        return self.ticked or self.not_applicable


@dataclass
class DescriptionCheck:
    items: list[Item]  # the template's items, as the description has them
    missing: list[str] = field(default_factory=list)  # template items deleted from the description
    own_words: int = 0  # words the description adds to the template
    wip: bool = False

    @property
    def completeness(self) -> float:
        """Done items over the template's items (a deleted item counts as not done)."""
        wanted = len(self.items) + len(self.missing)
        return sum(i.done for i in self.items) / wanted if wanted else 1.0

    @property
    def open_items(self) -> list[str]:
        return [i.text for i in self.items if not i.done] + self.missing


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def checklist(markdown: str) -> list[Item]:
    items = []
    for line in COMMENT.sub("", markdown).splitlines():
        match = CHECKBOX.match(line)
        if match:
            body = match.group("text")
            items.append(Item(body, match.group("mark") != " "))
    return items


def find_template(root: Path) -> Path | None:
    """The template file in a checkout (GitHub's places, any case)."""
    for place in TEMPLATE_PLACES:
        folder = root / Path(place).parent
        if folder.is_dir():
            for candidate in folder.iterdir():
                if candidate.name.lower() == Path(place).name.lower() and candidate.is_file():
                    return candidate
    return None


def template_text(repo: Repo, commit: str | None = None) -> tuple[str, str] | None:
    """(path, text) of the PR template, at `commit` if given (the review passes the base: a pull
    request cannot bring or edit the template it is checked against), else in the working tree.
    Names match in any case, as GitHub matches them (.github/PULL_REQUEST_TEMPLATE.md)."""
    if commit is None:
        found = find_template(repo.root)
        return (found.relative_to(repo.root).as_posix(), found.read_text("utf-8", "replace")) if found else None
    top = {Path(place).parts[0].lower() for place in TEMPLATE_PLACES if len(Path(place).parts) > 1}
    root = [name(raw) for raw in repo.git("ls-tree", "-z", "--name-only", "--full-tree", commit).split(b"\0") if raw]
    folders = [f"{entry}/" for entry in root if entry.lower() in top]  # .github, .GitHub, docs, Docs
    listed = root + [
        name(raw)
        for raw in (
            repo.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, "--", *folders) if folders else b""
        ).split(b"\0")
        if raw
    ]
    by_lower: dict[str, str] = {}
    for path in listed:
        by_lower.setdefault(path.lower(), path)
    for place in TEMPLATE_PLACES:
        path = by_lower.get(place.lower())
        if path is not None:
            data = repo.blobs([f"{commit}:{path}"]).get(f"{commit}:{path}")
            if data is not None:
                return path, data.decode("utf-8", "replace")
    return None


def check_description(description: str, template: str) -> DescriptionCheck:
    wanted = checklist(template)
    given = {normalize(i.text): i for i in checklist(description)}
    items, missing = [], []
    for item in wanted:
        match = given.get(normalize(item.text)) or next(
            (g for key, g in given.items() if key.startswith(normalize(item.text)[:40])), None
        )
        if match is None:
            missing.append(item.text)
        else:
            items.append(Item(match.text, match.ticked, marked_not_applicable(match.text, item.text)))
    template_words = set(normalize(COMMENT.sub("", template)).split())
    own = [w for w in normalize(_without_checklist(COMMENT.sub("", description))).split() if w not in template_words]
    return DescriptionCheck(
        items, missing, len(own), bool(WIP.search(description.splitlines()[0] if description else ""))
    )


def marked_not_applicable(given: str, template_item: str) -> bool:
    """The author marked the item N/A: struck through, or an N/A the template's own wording
    (an item such as "Migrations come with a test (or N/A)") does not already hold."""
    stripped = given.strip()
    if stripped.startswith("~~") and stripped.endswith("~~"):
        return True
    rest = re.sub(re.escape(template_item.strip()), " ", given, count=1, flags=re.IGNORECASE)
    return bool(NOT_APPLICABLE.search(rest))


def _without_checklist(markdown: str) -> str:
    return "\n".join(line for line in markdown.splitlines() if not CHECKBOX.match(line))

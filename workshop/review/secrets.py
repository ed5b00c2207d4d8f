"""Strings that look like secrets, on added lines: known key formats (the way gitleaks and
detect-secrets name them) and, next to a secret-sounding name, long high-entropy literals.

Placeholders are not alarms: AWS's documented example keys, values made of x's or stars,
`${VAR}`/`{{ var }}` templates, environment look-ups, and any line carrying the
`pragma: allowlist secret` comment (detect-secrets' convention) are left alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

KNOWN_FORMATS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "OpenAI key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----"),
    "password in a URL": re.compile(
        r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<secret>[^/\s:@'\"{}]{8,})@(?P<host>[\w.-]+)"
    ),
}
# name = "literal" / name: "literal" / "name": "literal" / name="literal" (kwargs, YAML, JSON, .env)
ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[\w.-]*(?:secret|passw(?:or)?d|passwd|token|api[_-]?key|access[_-]?key|private[_-]?key|auth|credential)[\w.-]*)
    ["']?\s*(?::=|=|:)\s*[bru]{0,2}(?P<quote>["'])(?P<value>[^"'\s]{16,})(?P=quote)"""
)
ALLOW_PRAGMA = "pragma: allowlist secret"
PLACEHOLDER = re.compile(
    r"(?i)example|dummy|placeholder|changeme|change-me|your[_-]|redacted|fake|sample|"
    r"^x+$|^\*+$|\$\{|\{\{|<[^>]+>|^\w+\(|os\.environ|getenv"
)
# A password in a URL to this machine or an example domain is a test's throwaway.
LOCAL_HOST = re.compile(
    r"(?i)^(localhost|127\.[\d.]+|0\.0\.0\.0|.*\.?example\.(com|org|net)|.*\.(test|invalid|local))$"
)
ENTROPY_MIN = 4.2  # bits per character: a random 24+ character key ~4.5-5, hex at most 4, words with dashes ~3.5-3.9
ENTROPY_HEX_MIN = 3.0


@dataclass(frozen=True)
class Secret:
    path: str
    line: int
    rule: str
    excerpt: str  # the value with its middle hidden: a report must not leak what it found

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} ({self.excerpt})"


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def hide(value: str) -> str:
    return value[:4] + "…" + value[-2:] if len(value) > 8 else "…"


def _looks_random(value: str) -> bool:
    if PLACEHOLDER.search(value):
        return False
    hexadecimal = re.fullmatch(r"[0-9a-fA-F]+", value) is not None
    if not hexadecimal and (value.isalpha() or "_" in value.strip("_") and value.replace("_", "").isalpha()):
        return False  # a word or snake_case identifier, e.g. token = "refresh_token_expired"
    return shannon_entropy(value) >= (ENTROPY_HEX_MIN if hexadecimal else ENTROPY_MIN)


def scan_line(path: str, number: int, line: str) -> list[Secret]:
    if ALLOW_PRAGMA in line:
        return []
    found = []
    for rule, pattern in KNOWN_FORMATS.items():
        for match in pattern.finditer(line):
            value = match.groupdict().get("secret") or match.group(0)
            if PLACEHOLDER.search(value) or PLACEHOLDER.search(match.group(0)):
                continue
            if "host" in pattern.groupindex and (
                LOCAL_HOST.match(match.group("host")) or shannon_entropy(value) < ENTROPY_HEX_MIN
            ):
                continue
            found.append(Secret(path, number, rule, hide(value)))
    if not found:
        for match in ASSIGNMENT.finditer(line):
            value = match.group("value")
            if _looks_random(value):
                found.append(Secret(path, number, f"high-entropy value for {match.group('name')!r}", hide(value)))
    return found


def scan(files) -> list[Secret]:
    """Secrets on the added lines of FileChange-like objects (path, added_lines)."""
    return [s for f in files for number, line in f.added_lines for s in scan_line(f.path, number, line)]

"""Strings that look like secrets, on added lines, in two passes:

1. provider formats first (the way gitleaks and detect-secrets name them): AWS, GitHub, GitLab,
   Slack, Stripe, Google, OpenAI, SendGrid, npm, PyPI, JWTs, private keys, passwords in URLs
   and on command lines; quotes are never required;
2. then a value assigned to a secret-sounding name (`.env`'s `NAME=value`, YAML's
   `name: value`, JSON, code, with or without quotes) that is neither a reference (a variable,
   a call, a template, a path), nor a word or identifier, nor a number, UUID or run of
   consecutive characters, and whose characters are spread as a generated key's are.

Measured on a labelled corpus of 275 lines (`secret_corpus.py`, `workshop bench review`).

Placeholders are not alarms: documented example keys, values made of x's or stars, `${VAR}` /
`{{ var }}` templates, environment look-ups, test fixtures' words ("test", "dummy", "changeme"),
passwords in URLs to localhost or example domains, and any line carrying the
`pragma: allowlist secret` comment (detect-secrets' convention).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

# Each pattern's `secret` group (or the whole match) is the value checked and hidden.
KNOWN_FORMATS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{24}"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    "OpenAI key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
    "SendGrid key": re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    "npm token": re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
    "PyPI token": re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # A header with its key after it: alone on its line (a PEM file) or before "\n" (JSON, YAML);
    # a parser's constant naming the header ("-----BEGIN PRIVATE KEY-----" in quotes) is not a key.
    "private key": re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----\s*(?:$|\\n)"
    ),
    "password in a URL": re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<user>[^\s/:@'\"`]*):(?P<secret>[^\s/@'\"`]+)@(?P<host>[\w.-]+)"
    ),
    "password on a command line": re.compile(
        r"\b(?:curl\b.*\s(?:-u|--user)\s*['\"]?[^\s:'\"]+:|mysql(?:dump|admin)?\b.*\s-p)(?P<secret>[^\s'\"]{6,})"
    ),
    "bearer token": re.compile(r"(?i)\b(?:bearer|token)\s+(?P<secret>[A-Za-z0-9._~+/-]{20,}=*)"),
}
# name = value, name: value, "name": "value", name="value", NAME=value (.env), with or without quotes
SECRET_NAME = (
    r"(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key|auth|credential|[_-]key)"
)
ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<name>[\w.-]*{SECRET_NAME}[\w.-]*) [\"'\]]{{0,2}} \s* (?::=|=>|=|:) \s* [bruf]{{0,2}}
    (?: (?P<quote>[\"'`]) (?P<quoted>[^\"'`]*) (?P=quote) | (?P<bare>[^\s\"'`,;()\[\]{{}}]+) )"""
)
# Names that hold no secret although they contain a secret-sounding word, matched on the
# name's parts (snake, kebab, dotted or camelCase): `token_ttl`, `passwordMinLength`, `api_key_id`.
HARMLESS_PARTS = {
    "public", "publishable", "id", "ids", "url", "uri", "path", "file", "type", "length", "len", "ttl", "timeout",
    "lifetime", "max", "min", "field", "header", "name", "format", "hash", "hashers", "sha", "sha1", "sha256", "md5",
    "checksum", "digest", "validators", "prompt", "label", "endpoint", "reset", "count", "author", "primary",
    "foreign", "cache", "sort", "partition", "idempotency", "arn", "generator", "model", "backend", "class",
    "template", "mode", "required", "enabled", "rotation", "scope", "audience", "fallbacks", "expiry", "expires",
}  # fmt: skip
ALLOW_PRAGMA = "pragma: allowlist secret"
PLACEHOLDER = re.compile(
    r"(?i)example|dummy|placeholder|changeme|change[-_]me|replace|your[_-]|redacted|fake|sample|test|"
    r"x{6,}|\*{3,}|\.\.\.|\$\{|\{\{|%\(|<[^>]*>|\{[^{}]*\}"  # the last: an f-string's {expression}
)
# A test fixture's password: nothing but these words, digits and punctuation ("password123", "my-secret").
FIXTURE_WORDS = re.compile(r"(?i)passwords?|passwd|secrets?|pass|pwd|test|token|key|admin|user|my|super|[\d\W_]")
# A reference to a secret kept elsewhere, not the secret: a variable, a call, a path, a vault.
REFERENCE = re.compile(
    r"""(?x)^(?:
      \$ | ! | %\( | \#\{ | arn: | vault: | ENC\[ | ~/ | \./ | /      # $VAR, !vault, paths
    | [A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+ $                               # settings.API_KEY, a.b.c
    | [A-Za-z_][\w.]*\(                                                 # a call
    | .*\.(?:pem|key|json|txt|ya?ml|env|crt|p12)$                       # a file
    )"""
)
UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
WORDS = re.compile(r"^(?:[A-Za-z]+(?:[_\-. ][A-Za-z]+)*|[a-z]+(?:[A-Z][a-z]*)*)$")  # words, snake/kebab/camelCase
# Passwords in URLs to this machine or an example domain are a test's throwaway.
LOCAL_HOST = re.compile(
    r"(?i)^(localhost|127\.[\d.]+|0\.0\.0\.0|db|postgres|redis|.*\.?example\.(com|org|net)|.*\.(test|invalid|local))$"
)
MIN_LENGTH = 8  # shorter values next to a secret name are too often words, flags or ids
RANDOM_SHARE = 0.75  # of the entropy a uniformly drawn string of that length would reach at most


@dataclass(frozen=True)
class Secret:
    path: str
    line: int
    rule: str
    excerpt: str  # at most 4 characters of the value and its length: a report must not leak it

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} ({self.excerpt})"


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def hide(value: str) -> str:
    """What a report may show of a secret: its first 4 characters when it is at least 20 long
    (a provider's prefix, like `ghp_` or `AKIA`, is most of that), otherwise none; and its length."""
    shown = value[:4] if len(value) >= 20 else ""
    return f"{shown}… {len(value)} chars"


def is_sequential(value: str) -> bool:
    """abcdef123456, 0123456789abcdef: mostly runs of consecutive characters (a fixture)."""
    steps = sum(ord(b) - ord(a) in (1, -1) for a, b in zip(value, value[1:]))
    return steps >= 0.7 * (len(value) - 1)


def is_passphrase(value: str) -> bool:
    """Words joined by dashes, dots or underscores (s3cr3t-hardening-pw, pw-Never-In-Argv-42):
    at least three parts, each a word (lower, upper or title case) or a number, one exception allowed."""
    parts = [p for p in re.split(r"[-_.]", value) if p]

    def wordlike(part: str) -> bool:
        return part.isdigit() or part.isalpha() and (part.islower() or part.isupper() or part.istitle())

    return len(parts) >= 3 and sum(not wordlike(p) for p in parts) <= 1


def looks_generated(value: str) -> bool:
    """Are the value's characters spread the way a generated key's or a strong password's are?

    A uniformly drawn string of length n over k symbols has close to log2(min(n, k)) bits of
    entropy per character; a repeated or word-like value has much less. Comparing with that
    ceiling, not with one fixed threshold, keeps 16-character keys findable (at most 4 bits)."""
    alphabet = 16 if re.fullmatch(r"[0-9a-fA-F]+", value) else 64
    classes = sum(bool(re.search(p, value)) for p in ("[a-z]", "[A-Z]", "[0-9]", r"[^A-Za-z0-9]"))
    if alphabet == 64 and classes < 2:
        return False
    return shannon_entropy(value) >= RANDOM_SHARE * math.log2(min(len(value), alphabet))


def is_secret_value(value: str) -> bool:
    value = value.strip()
    if len(value) < MIN_LENGTH or " " in value:  # a sentence or a passphrase example, not a key
        return False
    if PLACEHOLDER.search(value) or REFERENCE.match(value) or UUID.match(value):
        return False
    if value.isdigit() or WORDS.match(value) or len(set(value)) <= 3 or is_sequential(value):
        return False
    if not FIXTURE_WORDS.sub("", value) or is_passphrase(value):
        return False
    return looks_generated(value)


def name_parts(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return {part.lower() for part in re.split(r"[_.\-]+", spaced) if part}


def harmless_name(name: str) -> bool:
    return bool(name_parts(name) & HARMLESS_PARTS) or "author" in name.lower()


def _known_format(rule: str, match: re.Match) -> str | None:
    """The secret of a provider-format match, or None when it is a placeholder or a throwaway."""
    value = match.groupdict().get("secret") or match.group(0)
    if PLACEHOLDER.search(value):
        return None
    if rule == "password in a URL":
        if LOCAL_HOST.match(match.group("host")) or value == match.group("user") or REFERENCE.match(value):
            return None
    if rule in ("password on a command line", "bearer token") and not is_secret_value(value):
        return None
    return value


# Every pattern above needs one of these somewhere in the line: most lines of code are skipped
# after this one search instead of nineteen.
TRIGGER = re.compile(
    r"(?i)AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|xox|hooks\.slack|_live_|AIza|sk-|SG\.|npm_|pypi-|eyJ|"
    r"-----BEGIN|://|curl|mysql|bearer|secret|passw|pwd|token|key|auth|credential"
)


def scan_line(path: str, number: int, line: str) -> list[Secret]:
    if ALLOW_PRAGMA in line or not TRIGGER.search(line):
        return []
    found = []
    for rule, pattern in KNOWN_FORMATS.items():
        for match in pattern.finditer(line):
            value = _known_format(rule, match)
            if value is not None:
                found.append(Secret(path, number, rule, hide(value)))
    if found:
        return found
    for match in ASSIGNMENT.finditer(line):
        name, value = match.group("name"), match.group("quoted") if match.group("quote") else match.group("bare")
        if value and not harmless_name(name) and is_secret_value(value):
            found.append(Secret(path, number, f"secret-like value for {name!r}", hide(value)))
    return found


def scan(files) -> list[Secret]:
    """Secrets on the added lines of FileChange-like objects (path, added_lines)."""
    return [s for f in files for number, line in f.added_lines for s in scan_line(f.path, number, line)]

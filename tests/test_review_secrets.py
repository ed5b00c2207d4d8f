"""Secret-looking strings: known key formats first, then generated-looking values next to a
secret-sounding name (quotes or not), without false alarms on placeholders, hashes, ids or this
repository's own files; recall and precision on the labelled corpus.

The sample secrets below are assembled or drawn at run time, so this file holds none whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workshop.review import secret_corpus
from workshop.review.secrets import hide, scan_line, shannon_entropy

ROOT = Path(__file__).resolve().parent.parent


def rules(line: str) -> list[str]:
    return [s.rule for s in scan_line("f.py", 1, line)]


@pytest.mark.parametrize(
    "line, rule",
    [
        ("key = '" + "AKIA" + "Q3EGRNXBWZ4TLMVK" + "'", "AWS access key id"),
        ("token: " + "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "GitHub token"),
        ("SLACK = '" + "xoxb-" + "1234567890-abcdefghij" + "'", "Slack token"),
        ("stripe = '" + "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "'", "Stripe live key"),
        ("-----BEGIN " + "RSA PRIVATE KEY-----", "private key"),
        ("DATABASE_URL = 'postgres://shop:" + "s3cr3tPassw0rd" + "@db.internal/shop'", "password in a URL"),
    ],
)
def test_known_formats(line, rule):
    assert rules(line) == [rule]


def test_high_entropy_value_next_to_a_secret_name():
    assert rules("API_KEY = '" + "q8Zr2LxP0vW7nK3sT9bYd4Hf" + "'") == ["secret-like value for 'API_KEY'"]
    assert rules('"client_secret": "' + "9f86d081884c7d659a2feaa0c55ad015" + '"')  # hex, JSON style


@pytest.mark.parametrize(
    "line",
    [
        "API_KEY = 'AKIAIOSFODNN7EXAMPLE'",  # AWS's documented example key
        "API_KEY = os.environ['API_KEY']",
        "password = 'refresh_token_expired'",  # an identifier, not a secret
        "token = '${GITHUB_TOKEN}'",
        "secret_key = 'xxxxxxxxxxxxxxxxxxxxxxxx'",
        "checksum = '" + "9f86d081884c7d659a2feaa0c55ad015" + "'",  # random, but not named like a secret
        "API_KEY = '" + "q8Zr2LxP0vW7nK3sT9bYd4Hf" + "'  # pragma: allowlist secret",
        "password = 'correct horse battery staple'",
        "secret = 's3cr3t-hardening-pw'",  # lower-case words with dashes: a passphrase-like fixture
        "token_expiry = 12345678901234567890",  # a long digit string is a number, not a key
        "password = 'password123'",
        "idempotency_key = '" + "3f2b8c1e-9d4a-4f6b-8e2d-7c5a1b9e0f3d" + "'",
        "PRIVATE_KEY_HEADER = '-----BEGIN " + "PRIVATE KEY-----'  # what a parser looks for",
    ],
)
def test_placeholders_and_ordinary_values_are_not_alarms(line):
    assert rules(line) == []


def test_entropy():
    assert shannon_entropy("aaaa") == 0 and shannon_entropy("abcd") == 2


@pytest.mark.parametrize("length", [16, 20])
@pytest.mark.parametrize("template", ["API_KEY = '{}'", "API_KEY={}", "  api_key: {}", '"apiKey": "{}"'])
def test_short_random_keys_are_found_with_or_without_quotes(length, template):
    """Random 16- and 20-character keys (a fixed 4.2 bits per character needs 19 distinct
    characters, so a fixed threshold finds almost none of them)."""
    draw = secret_corpus.Draw(seed=length)
    keys = [draw.mixed(secret_corpus.ALNUM, length) for _ in range(200)]
    found = sum(bool(rules(template.format(key))) for key in keys)
    assert found >= 0.95 * len(keys), f"{found} of {len(keys)} found"


@pytest.mark.parametrize(
    "line",
    [
        "DB_PASSWORD=" + "Zq7-xW2!Lm9Rt4",  # .env, no quotes
        "  password: " + "Zq7-xW2!Lm9Rt4",  # YAML, no quotes
        "REDIS_URL=redis://:" + "Zq7xW2Lm9Rt4Vb8N" + "@cache.internal:6379/0",  # no user name
        "url = 'mysql://app:" + "Zq7-xW2!Lm" + "@db.prod.internal/shop'",  # symbols in the password
    ],
)
def test_values_without_quotes_and_passwords_in_urls(line):
    assert rules(line)


def test_hide_shows_at_most_four_characters():
    token = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    assert hide(token) == "ghp_… 40 chars"
    assert hide("Zq7xW2Lm9Rt4Vb8N") == "… 16 chars"  # short: nothing of it
    (found,) = scan_line("f.py", 1, f"GITHUB = '{token}'")
    assert token[4:8] not in found.excerpt and token[-2:] not in found.excerpt


def test_the_corpus_is_generated_not_pasted():
    """The stored corpus is exactly what the seeded generator writes: no real secret was pasted in,
    and no provider-format value is stored whole (each is defanged)."""
    assert secret_corpus.CORPUS.read_text("utf-8") == secret_corpus.dump(secret_corpus.generate())
    raw = secret_corpus.CORPUS.read_text("utf-8")
    assert not [
        line
        for line in raw.splitlines()
        if scan_line("corpus", 1, line.split("\t", 2)[-1]) and secret_corpus.DEFANG not in line
    ]


def test_the_corpus_is_labelled_and_large_enough():
    rows = secret_corpus.load()
    positives = [r for r in rows if r.label]
    assert len(rows) >= 200 and 0.35 < len(positives) / len(rows) < 0.65
    text = "\n".join(r.line for r in positives)
    for shape in ("AKIA", "ghp_", "sk_live_", "xoxb-", "PRIVATE KEY", "://", "DB_PASSWORD=", "  password: "):
        assert shape in text, shape
    assert secret_corpus.DEFANG not in text


def test_recall_and_precision_on_the_corpus():
    from workshop.review.secrets_compare import ours

    scores = ours(secret_corpus.load())
    assert scores.recall >= 0.95 and scores.precision >= 0.9, (scores.recall, scores.precision)


def test_detect_secrets_runs_on_the_same_corpus():
    """The baseline of `workshop bench review` really scans: it finds the AWS key ids."""
    from workshop.review.secrets_compare import detect_secrets

    rows = [r for r in secret_corpus.load() if r.line.startswith("AWS_ACCESS_KEY_ID=")]
    scores = detect_secrets(rows)
    assert scores.flagged == [bool(r.label) or "EXAMPLE" in r.line for r in rows] and any(scores.flagged)


def test_no_false_alarm_on_this_repository():
    """Every tracked text file of the workshop itself, tests included: nothing looks like a secret."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if path == secret_corpus.CORPUS:  # the labelled corpus: its positives are secrets by design
            continue
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += scan_line(name, number, line)
    assert not found, "\n".join(map(str, found))

"""Secret-looking strings: known key formats and high-entropy values next to a secret-sounding
name, without false alarms on placeholders or on this repository's own files.

The sample secrets below are assembled at run time, so this file holds none whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workshop.review.secrets import scan_line, shannon_entropy

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
    assert rules("API_KEY = '" + "q8Zr2LxP0vW7nK3sT9bYd4Hf" + "'") == ["high-entropy value for 'API_KEY'"]
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
        "secret = 's3cr3t-hardening-pw'",  # words with dashes: below 4.2 bits per character
    ],
)
def test_placeholders_and_ordinary_values_are_not_alarms(line):
    assert rules(line) == []


def test_entropy():
    assert shannon_entropy("aaaa") == 0 and shannon_entropy("abcd") == 2


def test_no_false_alarm_on_this_repository():
    """Every tracked text file of the workshop itself, tests included: nothing looks like a secret."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += scan_line(name, number, line)
    assert not found, "\n".join(map(str, found))

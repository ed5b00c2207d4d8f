"""The curated vocabularies in data/vocab, loaded once per process."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

VOCAB_DIR = config.DATA_DIR / "vocab"


def _lines(name: str) -> list[str]:
    path = VOCAB_DIR / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkshopError(
            f"Vocabulary file {path} is missing",
            "run the workshop from its source checkout (`pip install -e .`), where data/vocab lives",
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def ascii_slug(text: str) -> str:
    """'Zoë O'Brien' -> 'zoeobrien': what people type as the name part of an email."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


@dataclass(frozen=True)
class Vocab:
    first_female: list[str]
    first_male: list[str]
    last: list[str]
    streets: list[str]
    street_suffixes: list[str]
    cities: list[tuple[str, str, str]]  # (city, state, zip3)
    email_domains: list[tuple[str, int]]
    catalog: dict
    reviews: dict


@lru_cache(maxsize=1)
def load() -> Vocab:
    def tsv(name: str) -> list[list[str]]:
        rows = list(csv.reader(_lines(name), delimiter="\t"))
        return [r for r in rows if r and not (r[0] == "city")]  # skip the header

    domains = [(d, int(w)) for d, w in (line.split("\t") for line in _lines("email_domains.txt"))]
    return Vocab(
        first_female=_lines("first_names_female.txt"),
        first_male=_lines("first_names_male.txt"),
        last=_lines("last_names.txt"),
        streets=_lines("streets.txt"),
        street_suffixes=_lines("street_suffixes.txt"),
        cities=[(c, s, z) for c, s, z in tsv("cities.tsv")],
        email_domains=domains,
        catalog=json.loads((VOCAB_DIR / "catalog.json").read_text(encoding="utf-8")),
        reviews=json.loads((VOCAB_DIR / "reviews.json").read_text(encoding="utf-8")),
    )


def checksum() -> str:
    """A short hash of the vocabulary files: a changed vocabulary means a different dataset."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(VOCAB_DIR).glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]

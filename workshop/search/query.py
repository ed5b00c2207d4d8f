"""The search box's query language, parsed and validated before any backend sees it.

    wireless speaker            both words (AND), ranked by relevance
    "noise cancelling"          a phrase
    speaker OR headphones       either
    -refurbished                without this word (or -"a phrase")

Everything else (punctuation, SQL, JSON, Lucene operators) is either a word separator or a
one-line QueryError that names the problem and its position. Backends never receive the
raw text: they build their query from the parsed terms with parameters (PostgreSQL) or the
client's structures (Elasticsearch), so nothing the user types is spliced into SQL or DSL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workshop.errors import WorkshopError

MAX_LENGTH = 200
MAX_TERMS = 16
WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)  # letters, digits, underscore; "don't" stays one word


class QueryError(WorkshopError):
    """A malformed query: one line naming the problem, with how to write it instead."""

    def __init__(self, problem: str, fix: str = 'write words, "a phrase", word OR word, -word') -> None:
        super().__init__(problem, fix)


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # lower-cased; several for a phrase

    @property
    def phrase(self) -> bool:
        return len(self.words) > 1

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Query:
    """AND of groups, each an OR of terms; minus the excluded terms."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = field(default=())
    source: str = ""

    def words(self) -> list[str]:
        """Every positive word, in order (for highlighting and typo correction)."""
        return [w for group in self.groups for term in group for w in term.words]

    def replace_words(self, corrections: dict[str, str]) -> Query:
        """The same query with some words replaced (typo corrections)."""

        def fix(term: Term) -> Term:
            return Term(tuple(corrections.get(w, w) for w in term.words))

        return Query(tuple(tuple(fix(t) for t in g) for g in self.groups), self.excluded, self.source)

    # Composition, as Django's Q objects compose filters: (S("lamp") | S("light")) & ~S("desk").
    # The result stays in the language's shape (an AND of OR-groups, minus excluded terms), so
    # every backend runs it unchanged; what that shape cannot say is refused in one line.

    def __and__(self, other: Query) -> Query:
        other = _query(other)
        return _bounded(Query(self.groups + other.groups, _unique(self.excluded + other.excluded)))

    def __or__(self, other: Query) -> Query:
        other = _query(other)
        if self.excluded or other.excluded:
            raise QueryError("an OR of searches that exclude words cannot be searched", "apply & ~S(...) after the OR")
        if not self.groups or not other.groups:
            raise QueryError("an OR with a search that finds nothing by itself", "give each side a word to find")
        # (a AND b) OR (c AND d) = (a OR c) AND (a OR d) AND (b OR c) AND (b OR d)
        groups = tuple(_unique(a + b) for a in self.groups for b in other.groups)
        return _bounded(Query(tuple(dict.fromkeys(groups)), ()))

    def __invert__(self) -> Query:
        if self.excluded or len(self.groups) != 1:
            raise QueryError("only a word, a phrase or an OR of them can be excluded", 'write ~S("word")')
        return Query((), self.groups[0])

    def searchable(self) -> Query:
        """This query, if a backend can run it: at least one word to find, at most MAX_TERMS terms."""
        if not self.groups:
            raise QueryError("the search only excludes words", "combine it with a word to find: S(...) & ~S(...)")
        return _bounded(self)

    def __str__(self) -> str:
        def show(t: Term) -> str:
            return f'"{t.text}"' if t.phrase else t.text

        parts = [" OR ".join(show(t) for t in g) for g in self.groups] + [f"-{show(t)}" for t in self.excluded]
        return " ".join(parts)


def _query(value) -> Query:
    if isinstance(value, Query):
        return value
    raise QueryError(f"a search combines with another S(...), not with {type(value).__name__}", 'write S("words")')


def _unique(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    return tuple(dict.fromkeys(terms))


def _bounded(query: Query) -> Query:
    if sum(len(g) for g in query.groups) + len(query.excluded) > MAX_TERMS:
        raise QueryError(f"the combined search has more than {MAX_TERMS} terms", "combine fewer words")
    return query


def S(text: str) -> Query:  # noqa: N802 (named after Django's Q, which it mirrors)
    """A search term to compose with &, | and ~, from the same language the search box takes."""
    return parse(text)


def parse(text: str) -> Query:
    """Parse and validate; raises QueryError (one line) for anything malformed."""
    if not isinstance(text, str):
        raise QueryError(f"the query must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long, the limit is {MAX_LENGTH}", "shorten it")
    if any(ord(c) < 32 and c not in "\t\n" for c in text):
        raise QueryError("the query contains control characters", "type plain text")
    tokens: list[tuple[str, object, int]] = []  # (kind, value, position)
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        negative = text[pos] == "-"
        start = pos
        if negative:
            pos += 1
            if pos >= len(text) or text[pos].isspace():
                raise QueryError(f"'-' at position {start + 1} excludes nothing", "write -word without a space")
        if text[pos] == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise QueryError(f'unbalanced quote: the " at position {pos + 1} is never closed', "close the phrase")
            words = tuple(w.lower() for w in WORD.findall(text[pos + 1 : end]))
            if not words:
                raise QueryError(f"empty phrase at position {pos + 1}", "put words between the quotes")
            tokens.append(("neg" if negative else "term", Term(words), start))
            pos = end + 1
            continue
        match = re.compile(r'[^\s"]+').match(text, pos)
        chunk = match.group(0)
        pos = match.end()
        if chunk in ("(", ")") or "(" in chunk or ")" in chunk:
            raise QueryError(
                f"parentheses are not supported (position {start + 1 + chunk.find('(') if '(' in chunk else start + 1})",
                "use word OR word for alternatives",
            )
        if chunk == "OR" and not negative:
            tokens.append(("or", None, start))
            continue
        words = [w.lower() for w in WORD.findall(chunk)]
        if not words:
            continue  # punctuation only: a separator
        if negative:
            tokens.append(("neg", Term(tuple(words)) if len(words) > 1 else Term((words[0],)), start))
        else:
            tokens.extend(("term", Term((w,)), start) for w in words)

    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = None
    for kind, value, position in tokens:
        if kind == "or":
            if not groups or pending_or is not None:
                raise QueryError(f"OR at position {position + 1} has no word before it", "write word OR word")
            pending_or = position
        elif kind == "neg":
            if pending_or is not None:
                raise QueryError(f"OR at position {pending_or + 1} is followed by an exclusion", "write word OR word")
            excluded.append(value)
        else:
            if pending_or is not None:
                groups[-1].append(value)
                pending_or = None
            else:
                groups.append([value])
    if pending_or is not None:
        raise QueryError(f"OR at position {pending_or + 1} has no word after it", "write word OR word")
    if not groups:
        raise QueryError(
            "the query has no word to search for" if not excluded else "the query only excludes words",
            "add at least one word to find",
        )
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} terms", "use fewer words")
    return Query(tuple(tuple(g) for g in groups), tuple(excluded), text)

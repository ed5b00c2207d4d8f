"""The search box's query language: what parses, what is refused (one line naming the
problem), and hostile input that must come out as plain words."""

from __future__ import annotations

import pytest

from workshop.search.query import MAX_LENGTH, QueryError, Term, parse


def test_words_phrases_alternatives_and_exclusions():
    q = parse('wireless "noise cancelling" speaker OR headphones -refurbished')
    assert q.groups == (
        (Term(("wireless",)),),
        (Term(("noise", "cancelling")),),
        (Term(("speaker",)), Term(("headphones",))),
    )
    assert q.excluded == (Term(("refurbished",)),)
    assert q.words() == ["wireless", "noise", "cancelling", "speaker", "headphones"]
    assert str(q) == 'wireless "noise cancelling" speaker OR headphones -refurbished'


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('"noise cancelling', "unbalanced quote"),
        ("speaker OR", "no word after"),
        ("OR speaker", "no word before"),
        ("speaker OR OR lamp", "no word before"),
        ("lamp OR -glass", "followed by an exclusion"),
        ("- glass", "excludes nothing"),
        ("-glass", "only excludes"),
        ('""', "empty phrase"),
        ("   ", "no word"),
        ("title:(unbalanced", "parentheses"),
        ("x" * (MAX_LENGTH + 1), "characters long"),
        ("lamp\x00glass", "control characters"),
        (" ".join(f"w{i}" for i in range(20)), "more than"),
    ],
)
def test_malformed_queries_are_one_line_errors_naming_the_problem(text, named):
    with pytest.raises(QueryError) as caught:
        parse(text)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message and len(message) < 200


@pytest.mark.parametrize(
    "hostile",
    [
        "'; DROP TABLE shop_product; --",
        "lamp') OR 1=1 --",
        '{"query": {"match_all": {}}}',
        "lamp & !glass | (x <-> y)",
        "*:* OR _id:1",
        "\\u0000 lamp $$ ; SELECT pg_sleep(10)",
    ],
)
def test_hostile_input_becomes_plain_words_or_a_clear_refusal(hostile):
    try:
        q = parse(hostile)
    except QueryError as refused:
        assert "\n" not in str(refused)
        return
    for word in q.words() + [w for t in q.excluded for w in t.words]:
        assert word.replace("_", "").replace("'", "").isalnum(), word  # nothing but letters and digits


def test_typo_corrections_replace_words_but_keep_the_structure():
    q = parse("lmap OR glass -cheap")
    fixed = q.replace_words({"lmap": "lamp"})
    assert str(fixed) == "lamp OR glass -cheap"

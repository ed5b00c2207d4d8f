"""Is the ranking any good? Judged queries (judgments.json: for each query, the catalog
nouns a shopper wants, grade 2, and related ones, grade 1) scored as nDCG@10 per backend.

nDCG@k (Järvelin & Kekäläinen, 2002) with the gain 2^grade - 1 and the discount
log2(rank + 1): the DCG of the first k results divided by the DCG of the best possible
order of every graded product in the database. A query whose words no product is judged
for (a small dataset may lack dutch ovens) is left out of the mean, and counted."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

from workshop.django_setup import require_setup

require_setup()

JUDGMENTS = Path(__file__).with_name("judgments.json")
K = 10


@dataclass(frozen=True)
class Judgment:
    query: str
    best: tuple[str, ...]  # grade 2: what the shopper is looking for
    related: tuple[str, ...]  # grade 1


@dataclass
class Score:
    backend: str
    ranking: str
    ndcg: float | None  # mean over the judged queries
    per_query: dict[str, float] = field(default_factory=dict)
    unjudged: list[str] = field(default_factory=list)  # no graded product in this database


def judgments(path: Path = JUDGMENTS) -> list[Judgment]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Judgment(q["query"], tuple(q["best"]), tuple(q["related"])) for q in data["queries"]]


def dcg(grades: Sequence[int]) -> float:
    return sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades, 1))


def ndcg(ranked: Sequence[int], every: Sequence[int], k: int = K) -> float | None:
    """nDCG@k of the grades in ranked order, against the best order of `every` grade in
    the collection; None when nothing in the collection is relevant."""
    ideal = dcg(sorted(every, reverse=True)[:k])
    return None if ideal == 0 else dcg(list(ranked)[:k]) / ideal


def grades(judgment: Judgment) -> dict[int, int]:
    """{product id: grade} of the products the judgment grades (by the noun in the title)."""
    from django.db.models import Q

    from workshop.shop.models import Product

    def having(nouns: tuple[str, ...]) -> dict[int, int]:
        if not nouns:
            return {}
        title_has = reduce(lambda a, b: a | b, (Q(title__icontains=noun) for noun in nouns))
        return dict.fromkeys(Product.objects.filter(title_has).values_list("pk", flat=True), 0)

    return {**{pk: 1 for pk in having(judgment.related)}, **{pk: 2 for pk in having(judgment.best)}}


def score(backend: str, ranking: str = "weighted", k: int = K, judged: list[Judgment] | None = None) -> Score:
    """nDCG@k of one backend's product search over the judged queries."""
    from workshop.search import api

    result = Score(backend, ranking, None)
    for judgment in judged if judged is not None else judgments():
        graded = grades(judgment)
        qs = api.products().search(judgment.query, backend=backend, ranking=ranking)
        value = ndcg([graded.get(pk, 0) for pk in qs.values_list("pk", flat=True)[:k]], list(graded.values()), k)
        if value is None:
            result.unjudged.append(judgment.query)
        else:
            result.per_query[judgment.query] = value
    if result.per_query:
        result.ndcg = sum(result.per_query.values()) / len(result.per_query)
    return result

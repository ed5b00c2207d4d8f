"""Differential privacy in five minutes, with OpenDP: a noisy count of customers by region
(the first digit of the ZIP code) with a stated epsilon, and why a budget matters (the
averaging attack on repeated noisy answers).

OpenDP (https://docs.opendp.org) builds a measurement from a transformation (count by
categories: adding or removing one customer changes one count by 1) chained to a noise
mechanism (Laplace; on integer counts OpenDP draws the discrete Laplace). Its privacy map
says what epsilon one answer costs, computed by the library rather than by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS = tuple(str(d) for d in range(10))  # ZIP codes start with 0-9: ten national areas


def _opendp():
    import opendp.prelude as dp

    dp.enable_features("contrib")  # count_by_categories and the Laplace mechanism are "contrib"
    return dp


def _count_and_noise(epsilon: float):
    """The two halves of the region counter: the count by region (a transformation: one
    customer more or less moves one count by 1) and the Laplace noise on those ten counts,
    scaled by OpenDP so that the chain costs `epsilon` for one customer."""
    from workshop.errors import WorkshopError

    if not isinstance(epsilon, int | float) or not 0 < epsilon <= 10:
        raise WorkshopError(f"epsilon={epsilon!r}", "use a positive number such as 0.1, 1 or 5")
    dp = _opendp()
    count = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)),
        dp.symmetric_distance(),
        categories=list(REGIONS),
        null_category=False,
    )
    scale = dp.binary_search_param(lambda s: count >> dp.m.then_laplace(s), d_in=1, d_out=epsilon)
    return count, dp.m.make_laplace(count.output_domain, count.output_metric, scale)


def region_counter(epsilon: float):
    """An OpenDP measurement: a list of regions -> noisy counts, costing `epsilon` for adding
    or removing one customer (map(d_in=1))."""
    count, noise = _count_and_noise(epsilon)
    return count >> noise


def regions(schema: str = "public") -> list[str]:
    """Every customer's region, read once (the noise is added in this process, by OpenDP)."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    with _conn(None) as c:
        return [
            r
            for (r,) in c.execute(
                sql.SQL("SELECT left(zip_code, 1) FROM {}").format(sql.Identifier(schema, "shop_customer"))
            ).fetchall()
        ]


@dataclass(frozen=True)
class NoisyCounts:
    epsilon: float
    spent: float  # what the library's privacy map says one answer costs
    table: object  # DataFrame: region, true count, noisy count


def noisy_counts_by_region(epsilon: float = 1.0, data: list[str] | None = None) -> NoisyCounts:
    import pandas as pd

    data = data if data is not None else regions()
    counter = region_counter(epsilon)
    noisy = counter(data)
    true = pd.Series(data).value_counts().reindex(list(REGIONS), fill_value=0)
    table = pd.DataFrame({"region": list(REGIONS), "true count": true.to_list(), "noisy count": noisy})
    return NoisyCounts(epsilon, float(counter.map(1)), table)


def averaging_attack(
    epsilon: float = 1.0, repeats=(1, 10, 100, 1000), region: str = "0", data: list[str] | None = None
):
    """Ask the same noisy count again and again: the mean of n answers is off by about
    scale * sqrt(2 / n), and n answers cost n * epsilon (sequential composition). Returns a
    DataFrame: answers, mean absolute error of the averaged count, epsilon spent."""
    import numpy as np
    import pandas as pd

    data = data if data is not None else regions()
    count, noise = _count_and_noise(epsilon)
    # The count is deterministic: asking again draws fresh noise on the same ten counts, the
    # very measurement `count >> noise` is, without handing OpenDP every customer each time
    # (400 answers over 100,000 customers: 0.5 s instead of two minutes).
    counts = count(data)
    index = REGIONS.index(region)
    truth = counts[index]
    cost = float((count >> noise).map(1))
    rows, answers = [], []
    for n in sorted(repeats):
        while len(answers) < n:
            answers.append(noise(counts)[index])
        rows.append(
            {
                "answers averaged": n,
                "error of the average": abs(float(np.mean(answers[:n])) - truth),
                "epsilon spent": n * cost,
            }
        )
    return pd.DataFrame(rows)

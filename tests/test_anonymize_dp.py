"""OpenDP: the stated epsilon is what the library's privacy map says, the noise is there,
and averaging repeated answers wins the truth back while the spent epsilon grows."""

from __future__ import annotations

import pytest

from workshop.anonymize import dp
from workshop.errors import WorkshopError

DATA = ["0"] * 500 + ["1"] * 300 + ["9"] * 200


@pytest.mark.parametrize("epsilon", [0.1, 1.0, 5.0])
def test_the_counter_costs_the_stated_epsilon(epsilon):
    counter = dp.region_counter(epsilon)
    assert counter.map(1) == pytest.approx(epsilon, rel=1e-6)
    assert counter.map(2) == pytest.approx(2 * epsilon, rel=1e-6)  # two customers changed: twice the cost


def test_noisy_counts_are_noisy_but_close():
    result = dp.noisy_counts_by_region(1.0, data=DATA)
    table = result.table.set_index("region")
    assert table.loc["0", "true count"] == 500 and table.loc["5", "true count"] == 0
    answers = [tuple(dp.noisy_counts_by_region(1.0, data=DATA).table["noisy count"]) for _ in range(5)]
    assert len(set(answers)) > 1  # fresh noise each time
    assert all(abs(a - t) < 60 for ans in answers for a, t in zip(ans, table["true count"]))


def test_averaging_wins_the_truth_back_and_spends_the_budget():
    attack = dp.averaging_attack(0.1, repeats=(1, 400), data=DATA)
    many = attack.iloc[1]
    assert attack.iloc[0]["epsilon spent"] == pytest.approx(0.1)
    assert many["epsilon spent"] == pytest.approx(40.0)
    assert many["error of the average"] < 3  # scale 10: one answer is off by ~10, 400 averaged by ~0.7


@pytest.mark.parametrize("bad", [0, -1, "1", 100])
def test_bad_epsilon_is_a_one_line_error(bad):
    with pytest.raises(WorkshopError):
        dp.region_counter(bad)

"""The generator's national ids (issue 13 item 1): a seeded random permutation, no longer
an affine function of the customer's id (which let the copy's kept ids give them back)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from workshop.shop.data import generate, load, vocab
from workshop.shop.data.sizes import get_size


def national_numbers(seed: int, count: int) -> np.ndarray:
    return generate.ShopGenerator(get_size("tiny"), seed).national_ids(count)


def test_national_ids_are_a_seeded_random_draw_not_a_function_of_the_id():
    first = national_numbers(42, 5000)
    assert (first == national_numbers(42, 5000)).all()  # deterministic for a seed
    assert len(set(first.tolist())) == 5000 and first.min() >= 0 and first.max() < 10**8
    assert (first != national_numbers(43, 5000)).mean() > 0.99
    ids = np.arange(1, 5001)
    # The old formula, (id * 7,654,321 + seed * 1,000,003) mod 10^8, and any affine one:
    # consecutive customers' numbers no longer differ by a constant.
    assert not (first == (ids * 7_654_321 + 42 * 1_000_003) % 10**8).any()
    assert len(set(np.diff(first).tolist())) > 4900


def test_the_loader_sees_a_dataset_from_the_previous_generator_as_stale():
    stored = SimpleNamespace(
        size="tiny", seed=42, generator_version=generate.GENERATOR_VERSION, row_counts={"_vocab": vocab.checksum()}
    )
    assert load.matches(stored, "tiny", 42)
    stored.generator_version = 1  # national ids linear in the id
    assert not load.matches(stored, "tiny", 42)  # setup() reloads it


@pytest.mark.django_db
def test_the_loaded_customers_carry_the_drawn_ids():
    from workshop.shop.models import Customer

    rows = list(Customer.objects.order_by("id").values_list("id", "national_id"))
    drawn = national_numbers(42, len(rows))
    assert [n for _, n in rows] == [f"9{x // 10**6:02d}-{x // 10**4 % 100:02d}-{x % 10**4:04d}" for x in drawn.tolist()]

"""What notebook 03 shows beyond the client: the 10,000-user grid, expand/contract, and the kill
switch under load in separate processes. (The exercises: test_flags_exercises.py.)"""

from __future__ import annotations

import psycopg
import pytest
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)

from workshop.flags import expand_contract, grid, killswitch, ladder
from workshop.flags.client import conninfo

pytestmark = pytest.mark.django_db


# --- the grid, expand/contract, the kill switch ----------------------------------------------------


def test_grid_hash_is_sticky_and_waffle_s_roll_is_not():
    at_20, again, at_30 = (grid.workshop_answers("recommended_for_you", p) for p in (20, 20, 30))
    assert (at_20 == again).all() and not (at_20 & ~at_30).any()
    waffle_a, waffle_b = grid.waffle_answers("recommended_for_you", 20), grid.waffle_answers("recommended_for_you", 20)
    changed = int((waffle_a != waffle_b).sum())
    assert changed > 1000, f"waffle's cookie-less roll changed only {changed} of 10,000 answers"
    states = grid.states(at_30, at_20)
    assert (states == grid.TURNED_OFF).sum() == 0 and (states == grid.TURNED_ON).sum() == (at_30 & ~at_20).sum()
    assert "0 turned off" in grid.summary(at_30, at_20)


def test_expand_contract_never_leaves_a_needed_path_broken():
    with psycopg.connect(**conninfo(), autocommit=True) as conn:
        try:
            steps = expand_contract.walk_through(conn)
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {expand_contract.SCHEMA} CASCADE")
    everyone = expand_contract.PEOPLE
    by_phase = {s["phase"][0]: s for s in steps}
    for phase in "0123":  # the old path works until the contract
        assert by_phase[phase]["read old path"] == everyone[: len(by_phase[phase]["read old path"])]
    for phase in "234":  # the new path works from the backfill on, for every row
        assert by_phase[phase]["read new path"] == everyone
    assert by_phase["4"]["read old path"] is None and "full_name" not in by_phase["4"]["columns"]


def test_the_kill_switch_stops_the_errors_in_every_process(committed):
    from django.contrib.auth.models import User

    committed(ladder.RECOMMENDED, everyone=True)
    ids = list(User.objects.order_by("id").values_list("id", flat=True)[:2])
    result = killswitch.run(conninfo(), ladder.RECOMMENDED, ids, before=0.3, after=0.8, ttl=0.5)
    assert result.errors > 0, "the block's bug fails requests before the flip"
    obeyed = result.obeyed_after(2)
    assert all(x is not None for x in obeyed), "every process obeyed the kill switch within the run"
    for samples, after in zip(result.samples, obeyed):
        late = [s for s in samples if s[0] >= result.flipped_at + after]
        assert late and all(s[1] == 200 and not s[2] for s in late), "after obeying: no block, no error"
    assert killswitch.plot(result) is not None

"""What notebook 03 shows beyond the client: the exercises' checks (solution passes, wrong
answers get their hint), the 10,000-user grid, expand/contract, and the kill switch under load
in separate processes."""

from __future__ import annotations

import random

import psycopg
import pytest
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)

from workshop.flags import exercises, expand_contract, grid, killswitch, ladder, rules, solutions
from workshop.flags.client import conninfo

pytestmark = pytest.mark.django_db


# --- exercise 1 -------------------------------------------------------------------------------


def test_exercise_1_solution_passes(capsys):
    assert exercises.check_in_rollout(solutions.in_rollout)
    assert capsys.readouterr().out.startswith("well done")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (None, "write in_rollout"),
        (lambda key, user, p: None, "returns None"),  # the notebook's placeholder
        (lambda key, user, p: random.uniform(0, 100) < p, "not random"),
        (lambda key, user, p: rules.bucket("same", str(user)) < rules.threshold(p), "put the flag key into the hash"),
        (lambda key, user, p: rules.bucket(key, str(user)) < rules.threshold(p / 2), "compare the hash's bucket"),
        (lambda key, user, p: rules.bucket(f"{key}{p}", str(user)) < rules.threshold(p), "turned some users off"),
        (lambda key, user, p: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_exercise_1_wrong_answers_get_their_hint(wrong, hint, capsys):
    assert not exercises.check_in_rollout(wrong)
    out = capsys.readouterr().out
    assert out.startswith("not yet") and hint in out


# --- exercise 2 -------------------------------------------------------------------------------


def test_exercise_2_the_solution_is_what_the_detector_reports(capsys):
    from workshop.flags import stale

    folder = exercises.stale_exercise()
    report = stale.check(folder, days=30)
    found = {k for k in report.unused + list(report.fully_rolled_out) if k.startswith("ex_")}
    assert found == solutions.STALE
    assert exercises.check_stale(solutions.STALE)
    assert capsys.readouterr().out.startswith("well done")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (None, "set answer_2"),
        ({"ex_free_shipping_banner"}, "used nowhere"),
        ({"ex_holiday_theme"}, "on for everyone for months"),
        ({"ex_holiday_theme", "ex_free_shipping_banner", "ex_new"}, "are not stale"),
    ],
)
def test_exercise_2_wrong_answers_get_their_hint(wrong, hint, capsys):
    assert not exercises.check_stale(wrong)
    out = capsys.readouterr().out
    assert out.startswith("not yet") and hint in out


# --- exercise 3 -------------------------------------------------------------------------------


def test_exercise_3_solution_passes(capsys):
    assert exercises.check_phases(solutions.PHASES)
    assert capsys.readouterr().out.startswith("well done")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (None, "set answer_3"),
        (["expand", "dual write", "backfill", "read new"], "exactly once"),
        (["contract", "expand", "dual write", "backfill", "read new"], "comes last"),
        (["dual write", "expand", "backfill", "read new", "contract"], "expand first"),
        (["expand", "backfill", "dual write", "read new", "contract"], "dual writes on first"),
        (["expand", "dual write", "read new", "backfill", "contract"], "before the backfill"),
    ],
)
def test_exercise_3_wrong_answers_get_their_hint(wrong, hint, capsys):
    assert not exercises.check_phases(wrong)
    out = capsys.readouterr().out
    assert out.startswith("not yet") and hint in out


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

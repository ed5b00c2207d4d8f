"""Bucketing and evaluation (pure: no database), and the one-line rejections of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workshop.errors import WorkshopError
from workshop.flags import validation
from workshop.flags.rules import BUCKETS, Definition, FlagContext, bucket, decide, evaluate, reason, threshold

USERS = range(1, 100_001)


def on_at(key: str, percentage: float, users=USERS) -> set[int]:
    limit = threshold(percentage)
    return {u for u in users if bucket(key, str(u)) < limit}


@pytest.mark.parametrize("percentage", [1, 10, 25, 50, 90])
def test_share_is_right_within_one_point_over_100k_users(percentage):
    share = len(on_at("recommended_for_you", percentage)) / len(USERS) * 100
    assert abs(share - percentage) <= 1, f"{share:.2f}% on at {percentage}%"


def test_raising_the_percentage_never_turns_anyone_off_and_lowering_never_turns_anyone_on():
    steps = [0, 1, 5, 10, 30, 50, 75, 99, 100]
    sets = [on_at("checkout_v2", p, range(1, 20_001)) for p in steps]
    for lower, higher, p_low, p_high in zip(sets, sets[1:], steps, steps[1:]):
        assert lower <= higher, f"raising {p_low}% -> {p_high}% turned off {len(lower - higher)} users"
    assert not sets[0] and len(sets[-1]) == 20_000


def test_everyone_on_at_10_percent_is_still_on_at_30():
    assert on_at("recommended_for_you", 10) <= on_at("recommended_for_you", 30)


def test_each_flag_gets_its_own_users():
    a, b = on_at("flag_a", 10), on_at("flag_b", 10)
    overlap = len(a & b) / len(a)
    assert 0.05 < overlap < 0.15, f"{overlap:.1%} of flag_a's 10% also have flag_b: the key must salt the hash"


def test_same_buckets_in_another_process():
    """PYTHONHASHSEED differs between processes: a bucket built on hash() would differ."""
    users = [str(u) for u in range(1, 2001)]
    code = (
        "import json, sys; from workshop.flags.rules import bucket; "
        "print(json.dumps([bucket('recommended_for_you', u) for u in json.load(sys.stdin)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(users),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        check=True,
    )
    assert json.loads(done.stdout) == [bucket("recommended_for_you", u) for u in users]


def test_buckets_cover_the_range():
    seen = {bucket("x", str(u)) for u in range(50_000)}
    assert min(seen) == 0 and max(seen) == BUCKETS - 1


def test_evaluation_order():
    alice = FlagContext.for_user_id(7, group_ids=[3])
    bob = FlagContext.for_user_id(8, group_ids=[4])
    assert evaluate(Definition("f", user_ids=frozenset({7})), alice)
    assert not evaluate(Definition("f", user_ids=frozenset({7})), bob)
    assert evaluate(Definition("f", group_ids=frozenset({3})), alice)
    assert evaluate(Definition("f", everyone=True), bob)
    killed = Definition("f", enabled=False, everyone=True, user_ids=frozenset({7}))
    assert not evaluate(killed, alice) and reason(killed, alice) == "kill switch off"
    assert evaluate(Definition("f", percentage=100), FlagContext(None))
    assert not evaluate(Definition("f", percentage=50), FlagContext(None))  # anonymous: nothing to hash


def test_groups_are_loaded_once_and_only_when_a_flag_has_groups():
    calls = []
    context = FlagContext("1", 1, load_groups=lambda: calls.append(1) or [3])
    evaluate(Definition("plain", percentage=50), context)
    assert calls == []
    for _ in range(3):
        assert evaluate(Definition("grouped", group_ids=frozenset({3})), context)
    assert calls == [1]


@pytest.mark.parametrize("bad", [-1, 100.5, 1000, "half", None, True, float("nan")])
def test_percentage_outside_0_100_is_rejected_in_one_line(bad):
    with pytest.raises(WorkshopError) as error:
        validation.check_percentage(bad)
    assert "outside 0-100" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("good", [0, 0.01, 25, "12.5", 100])
def test_percentages_in_range_pass(good):
    assert 0 <= validation.check_percentage(good) <= 100


@pytest.mark.parametrize("bad", ["new-checkout", "2fast", "has space", "", "class", None, "x" * 101])
def test_flag_name_that_is_not_an_identifier_is_rejected_in_one_line(bad):
    with pytest.raises(WorkshopError) as error:
        validation.check_key(bad)
    assert "not a Python identifier" in str(error.value) and "\n" not in str(error.value)


def test_the_benchmark_and_cli_are_found_without_a_configured_django():
    code = (
        "from workshop import bench; from workshop.cli import parser; assert 'flags' in bench.discover(); "
        "args = parser().parse_args(['flags', 'stale', '.', '--days', '7']); print(args.days)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"


def test_decide_gives_evaluate_s_answer_on_every_rule():
    import itertools

    definitions = [
        Definition("d", enabled, everyone, percentage, frozenset(users), frozenset(groups))
        for enabled, everyone, percentage, users, groups in itertools.product(
            (True, False), (True, False), (0, 0.5, 30, 100), ((), (3,)), ((), (7,))
        )
    ]
    contexts = [FlagContext(None)] + [FlagContext(str(u), u, groups) for u in range(1, 40) for groups in ((), (7,))]
    rules_seen = set()
    for definition, context in itertools.product(definitions, contexts):
        answer, rule = decide(definition, context)
        assert answer is evaluate(definition, context), (definition, context, rule)
        rules_seen.add(rule)
    assert rules_seen == {"disabled", "everyone", "user", "group", "no rollout", "no bucket", "split"}

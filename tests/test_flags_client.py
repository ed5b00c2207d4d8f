"""The client against the real test database: snapshots, request/job agreement, the unknown-
flag policy, the product page on every rung of the ladder, and both code paths of a flag."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)
from flags_helpers import run_committed, until
from waffle.testutils import override_flag

from workshop.flags import ladder, processes
from workshop.flags.client import FlagClient, UnknownFlagError, conninfo, context_for_user, get_client, override
from workshop.flags.store import FlagStore

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_waffle_cache():
    """waffle caches flags in Django's cache, which outlives each test's rolled-back transaction."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def staff() -> list[User]:
    users = list(User.objects.order_by("id").prefetch_related("groups"))
    assert users, "the tiny dataset has staff users"
    return users


def page(user: User | None, gate: str = "workshop", **params):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get("/products/1/", {"gate": gate, **params})


def test_a_flip_during_a_request_does_not_change_its_answers(committed, flag_key, store):
    committed(percentage=100)
    assert store.wait_for(lambda d: flag_key in d and d[flag_key].percentage == 100)
    snapshot = FlagClient(store).snapshot(context_for_user(staff()[0]))
    assert snapshot.is_on(flag_key)
    processes.commit_flip(conninfo(), flag_key, enabled=False)  # the kill switch, mid-request
    assert store.wait_for(lambda d: not d[flag_key].enabled)
    assert snapshot.is_on(flag_key), "the request that began before the flip must keep its answer"
    assert not FlagClient(store).snapshot(context_for_user(staff()[0])).is_on(flag_key), "the next request obeys"


def test_a_job_gets_the_same_answer_as_the_request(committed):
    key = ladder.RECOMMENDED
    group = staff()[1].groups.first()
    committed(key, percentage=50, groups=[group.name])
    flags = get_client()
    assert flags.store.wait_for(lambda d: key in d and d[key].percentage == 50)
    answers = {}
    for user in staff():
        response = page(user)
        assert response.status_code == 200
        from_request = response["X-Recommended"] == "on"
        assert from_request == flags.is_on(key, user), f"{user}: request and job disagree"
        answers[user.pk] = from_request
        assert from_request == ("id='recommended'" in response.content.decode())
    members = {u.pk for u in staff() if group in u.groups.all()}
    assert members and all(answers[pk] for pk in members), f"the {group.name} group is targeted"
    assert not all(answers.values()), "50% of the others: with 8 staff, someone is off (fixed by the hash)"


def group_flag_and_an_outsider(committed):
    """recommended_for_you targeting one group at 0%, and a staff user outside that group
    (so every check of theirs needs their groups)."""
    key = ladder.RECOMMENDED
    group = staff()[1].groups.first()
    committed(key, enabled=True, everyone=False, percentage=0, users=[], groups=[group.name])
    flags = get_client()
    assert flags.store.wait_for(lambda d: key in d and d[key].group_ids == {group.pk} and d[key].percentage == 0)
    outsider = next(u for u in staff() if group not in u.groups.all())
    return flags, key, group, outsider


def test_a_job_reads_a_user_s_groups_once_not_on_every_check(committed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    flags, key, _, outsider = group_flag_and_an_outsider(committed)
    memberships = flags.store.memberships
    assert flags.is_on(key, outsider) is False  # the first check reads the groups
    before = memberships.queries
    with CaptureQueriesContext(connection) as captured:
        answers = {flags.is_on(key, outsider) for _ in range(50)}  # as a job does: a fresh context each time
    assert answers == {False}
    assert len(captured) == 0 and memberships.queries == before, f"{len(captured)} queries for 50 checks"


def test_a_job_hears_a_user_join_and_leave_the_targeted_group(committed):
    flags, key, group, outsider = group_flag_and_an_outsider(committed)
    assert flags.is_on(key, outsider) is False
    run_committed(lambda: outsider.groups.add(group))  # the membership trigger NOTIFYs on commit
    try:
        assert until(lambda: flags.is_on(key, outsider)), "the cached groups were not cleared"
    finally:
        run_committed(lambda: outsider.groups.remove(group))
    assert until(lambda: not flags.is_on(key, outsider)), "nor after leaving"


def test_unknown_flag_is_an_error_in_tests():
    with pytest.raises(UnknownFlagError) as error:
        get_client().is_on("recomended_for_you", staff()[0])  # a typo
    assert "not defined" in str(error.value)


def test_unknown_flag_in_production_warns_and_answers_the_declared_default(caplog, store):
    production = FlagClient(store, on_unknown="default")
    with caplog.at_level(logging.WARNING, logger="workshop.flags"):
        assert production.is_on("not_there", default=True) is True
        assert production.is_on("not_there", default=False) is False
    warnings = [r for r in caplog.records if "not_there" in r.getMessage()]
    assert len(warnings) == 1, "one warning per flag and process, not one per check"


def test_the_unknown_flag_policy_is_validated():
    from workshop.errors import WorkshopError

    with pytest.raises(WorkshopError, match="not one of"):
        FlagClient(FlagStore({}), on_unknown="ignore")


@pytest.mark.parametrize("on", [True, False], ids=["block on", "block off"])
def test_both_code_paths_of_the_workshop_flag(on):
    with override(ladder.RECOMMENDED, on):
        response = page(staff()[0])
    assert response.status_code == 200
    assert ("Recommended for you" in response.content.decode()) is on


@pytest.mark.parametrize("on", [True, False], ids=["block on", "block off"])
def test_both_code_paths_of_the_waffle_flag(on):
    with override_flag(ladder.RECOMMENDED, active=on):
        response = page(staff()[0], gate="waffle_flag")
    assert response["X-Recommended"] == ("on" if on else "off")


def test_env_toggle_rung(monkeypatch):
    monkeypatch.setenv(ladder.ENV_TOGGLE, "1")
    assert page(None, gate="env")["X-Recommended"] == "on"
    monkeypatch.setenv(ladder.ENV_TOGGLE, "0")
    assert page(None, gate="env")["X-Recommended"] == "off"


def test_waffle_group_flag_rung():
    from django.contrib.auth.models import Group
    from waffle.models import Flag

    flag = Flag.objects.create(name=ladder.RECOMMENDED, everyone=None)
    flag.groups.add(Group.objects.get(name="Engineering"))
    for user in staff():
        # waffle's Flag.superusers defaults to True: the superuser sees every flag
        expected = user.is_superuser or user.groups.filter(name="Engineering").exists()
        assert (page(user, gate="waffle_flag")["X-Recommended"] == "on") is expected


def test_the_new_block_s_bug_is_a_500_until_the_kill_switch(committed):
    key = ladder.RECOMMENDED
    committed(key, everyone=True)
    flags = get_client()
    assert flags.store.wait_for(lambda d: key in d and d[key].everyone)
    client = Client(raise_request_exception=False)
    client.force_login(staff()[0])
    assert client.get("/products/1/", {"simulate_bug": "1"}).status_code == 500
    committed(key, enabled=False)
    assert flags.store.wait_for(lambda d: not d[key].enabled)
    assert client.get("/products/1/", {"simulate_bug": "1"}).status_code == 200


def test_an_unknown_gate_is_a_one_line_error():
    from workshop.errors import WorkshopError

    with pytest.raises(WorkshopError, match="Unknown gate"):
        page(None, gate="coin_toss")


def test_define_rejects_bad_input_before_writing(flag_key):
    from workshop import flags
    from workshop.errors import WorkshopError
    from workshop.flags.models import FlagDefinition

    with pytest.raises(WorkshopError, match="outside 0-100"):
        flags.define(flag_key, percentage=120)
    with pytest.raises(WorkshopError, match="not a Python identifier"):
        flags.define("new-checkout", percentage=5)
    with pytest.raises(WorkshopError, match="No group named"):
        flags.define(flag_key, groups=["Astronauts"])
    assert not FlagDefinition.objects.filter(key__in=[flag_key, "new-checkout"]).exists()


def test_define_is_idempotent_and_tracks_full_rollout(flag_key):
    from workshop import flags

    first = flags.define(flag_key, percentage=100)
    again = flags.define(flag_key, percentage=100)
    assert first.pk == again.pk and again.fully_on_since == first.fully_on_since is not None
    assert flags.define(flag_key, percentage=40).fully_on_since is None


def test_run_committed_really_commits(flag_key):
    from workshop import flags
    from workshop.flags.models import FlagDefinition

    run_committed(flags.define, flag_key, percentage=3)
    try:
        assert FlagDefinition.objects.get(key=flag_key).percentage == 3
    finally:
        run_committed(flags.delete, flag_key)


def test_a_management_command_gives_the_product_page_s_answer(committed, capsys):
    from workshop.cli import main

    key = ladder.RECOMMENDED
    committed(key, percentage=50)
    assert get_client().store.wait_for(lambda d: key in d and d[key].percentage == 50)
    for user in staff():
        assert main(["flags", "is-on", key, "--user", str(user.pk)]) == 0
        said = capsys.readouterr().out
        assert said.startswith(f"{key}: {page(user)['X-Recommended']} for {user}"), said


def test_the_command_rejects_typos_and_unknown_users(capsys):
    from workshop.cli import main

    assert main(["flags", "is-on", "recomended_for_you"]) == 2
    assert "Flag 'recomended_for_you' is not defined" in capsys.readouterr().err
    assert main(["flags", "is-on", ladder.RECOMMENDED, "--user", "999999"]) == 2
    assert "No user with id 999999" in capsys.readouterr().err


def fully_on_since(key: str):
    from workshop.flags.models import FlagDefinition

    return FlagDefinition.objects.values_list("fully_on_since", flat=True).get(key=key)


def test_every_path_that_turns_a_flag_fully_on_records_when(committed, flag_key):
    from workshop.flags import processes
    from workshop.flags.client import conninfo
    from workshop.flags.models import FlagDefinition

    committed(percentage=10)
    assert fully_on_since(flag_key) is None
    run_committed(lambda: FlagDefinition.objects.filter(key=flag_key).update(percentage=100))  # no save()
    since = fully_on_since(flag_key)
    assert since is not None, "QuerySet.update() to 100%"
    run_committed(lambda: FlagDefinition.objects.filter(key=flag_key).update(everyone=True, description="x"))
    assert fully_on_since(flag_key) == since, "still fully on: the clock keeps running"
    processes.commit_flip(conninfo(), flag_key, enabled=False)  # the kill switch
    assert fully_on_since(flag_key) is None
    processes.commit_flip(conninfo(), flag_key, enabled=True)  # the flip helper turns it back on
    again = fully_on_since(flag_key)
    assert again is not None and again > since
    processes.commit_flip(conninfo(), flag_key, everyone=False, percentage=50.0)
    assert fully_on_since(flag_key) is None
    committed(percentage=100)  # define() and save()
    assert fully_on_since(flag_key) is not None


def test_a_backdated_rollout_is_kept_and_reported(committed, flag_key, tmp_path):
    from workshop.flags import stale
    from workshop.flags.models import FlagDefinition

    committed(everyone=True)
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=90)
    run_committed(lambda: FlagDefinition.objects.filter(key=flag_key).update(fully_on_since=old))
    flag = FlagDefinition.objects.get(key=flag_key)
    flag.description = "a stale instance saving"
    flag.fully_on_since = datetime.datetime.now(datetime.UTC)
    run_committed(flag.save)
    assert fully_on_since(flag_key) == old, "the earlier date wins while the flag stays fully on"
    (tmp_path / "views.py").write_text(f'flags.is_on("{flag_key}")\n')
    assert stale.check(tmp_path, days=30).fully_rolled_out.get(flag_key) == 90

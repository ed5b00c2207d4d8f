"""The OpenFeature provider: the vendor-neutral API answers what the workshop client answers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from workshop.flags import ladder
from workshop.flags.client import FlagClient, conninfo, get_client, override
from workshop.flags.provider import WorkshopProvider
from workshop.flags.rules import FlagContext
from workshop.flags.store import FlagStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def of_client(store):
    ladder.set_provider(WorkshopProvider(FlagClient(store, on_unknown="default")), domain="test")
    yield api.get_client("test")
    ladder.set_provider(WorkshopProvider(FlagClient(store)), domain="test")


def staff() -> list[User]:
    return list(User.objects.order_by("id").prefetch_related("groups"))


def page(user: User | None, gate: str) -> bool:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get("/products/1/", {"gate": gate})
    assert response.status_code == 200
    return response["X-Recommended"] == "on"


def committed_and_seen(committed, key: str, **fields) -> None:
    """Commit the flag's fields (the others reset), and wait until this process's store holds it."""
    committed(key, **{"enabled": True, "everyone": False, "percentage": 0, "users": [], "groups": [], **fields})
    expected = FlagStore(conninfo()).load()[key]
    assert get_client().store.wait_for(lambda d: d.get(key) == expected)


def rule_kinds() -> dict[str, dict]:
    users = staff()
    grouped = next(u for u in users if u.groups.exists() and not u.is_superuser)
    return {
        "kill switch": {"enabled": False, "everyone": True},
        "everyone": {"everyone": True},
        "listed users": {"users": [users[0].pk, users[2].pk]},
        "listed group": {"groups": [grouped.groups.first().name]},
        "percentage": {"percentage": 50},
        "0% and nobody listed": {},
    }


@pytest.mark.parametrize(
    "kind", ["kill switch", "everyone", "listed users", "listed group", "percentage", "0% and nobody listed"]
)
def test_the_openfeature_gate_agrees_with_request_flags_on_every_rule(committed, kind):
    key = ladder.RECOMMENDED
    committed_and_seen(committed, key, **rule_kinds()[kind])
    ladder.use_workshop_provider()
    jobs = api.get_client()
    answers = set()
    for user in [*staff(), None]:
        in_request = page(user, "workshop")
        assert page(user, "openfeature") is in_request, f"{kind}, {user}: request.flags and OpenFeature disagree"
        context = EvaluationContext(str(user.pk)) if user else None
        assert jobs.get_boolean_value(key, not in_request, context) is in_request, f"{kind}, {user}: outside a request"
        answers.add(in_request)
    if kind in ("listed users", "listed group", "percentage"):
        assert answers == {True, False}, f"{kind}: some users on and some off, or the comparison proves little"


@pytest.mark.parametrize("forced", [True, False])
def test_the_openfeature_gate_honours_flags_override(committed, forced):
    key = ladder.RECOMMENDED
    committed_and_seen(committed, key, everyone=not forced)  # the definition says the opposite
    ladder.use_workshop_provider()
    with override(key, forced):
        for user in [*staff()[:3], None]:
            assert page(user, "workshop") is forced and page(user, "openfeature") is forced
            context = EvaluationContext(str(user.pk)) if user else None
            details = api.get_client().get_boolean_details(key, not forced, context)
            assert details.value is forced and details.reason == Reason.STATIC, details


def test_openfeature_agrees_with_the_client(committed, flag_key, store, of_client):
    committed(percentage=50)
    assert store.wait_for(lambda d: flag_key in d)
    direct = FlagClient(store)
    for user_id in range(1, 400):
        context = EvaluationContext(str(user_id))
        expected = direct.is_on(flag_key, context=FlagContext.for_user_id(user_id))
        assert of_client.get_boolean_value(flag_key, not expected, context) is expected
    details = of_client.get_boolean_details(flag_key, False, EvaluationContext("1"))
    assert details.reason == Reason.SPLIT and details.variant in ("on", "off")


def test_group_targeting_and_reasons(committed, flag_key, store, of_client):
    user = User.objects.filter(groups__isnull=False).order_by("id").first()
    group = user.groups.first()
    committed(groups=[group.name])
    assert store.wait_for(lambda d: flag_key in d and d[flag_key].group_ids)
    hit = of_client.get_boolean_details(flag_key, False, EvaluationContext(str(user.pk), {"groups": [group.pk]}))
    assert hit.value is True and hit.reason == Reason.TARGETING_MATCH
    committed(enabled=False)
    assert store.wait_for(lambda d: not d[flag_key].enabled)
    off = of_client.get_boolean_details(flag_key, True, EvaluationContext(str(user.pk), {"groups": [group.pk]}))
    assert off.value is False and off.reason == Reason.DISABLED


def test_reasons_follow_the_specification(committed, flag_key, store, of_client):
    users = staff()
    kinds = {
        "zero": {"percentage": 0},
        "thirty": {"percentage": 30},
        "listed": {"users": [users[0].pk], "percentage": 0},
        "off": {"enabled": False, "everyone": True},
        "all": {"everyone": True},
    }
    for name, fields in kinds.items():
        committed(f"{flag_key}_{name}", **fields)
    assert store.wait_for(lambda d: all(f"{flag_key}_{name}" in d for name in kinds))

    def details(name: str, key: str | None):
        return of_client.get_boolean_details(f"{flag_key}_{name}", True, EvaluationContext(key) if key else None)

    zero = details("zero", "1")
    assert (zero.value, zero.reason) == (False, Reason.DEFAULT), "a 0% rollout matched no rule: DEFAULT"
    split = {details("thirty", str(uid)).value: details("thirty", str(uid)).reason for uid in range(1, 60)}
    assert split == {True: Reason.SPLIT, False: Reason.SPLIT}, "in or out of the bucket: pseudorandom, SPLIT"
    assert (details("thirty", None).value, details("thirty", None).reason) == (False, Reason.DEFAULT)
    listed = details("listed", str(users[0].pk))
    assert (listed.value, listed.reason) == (True, Reason.TARGETING_MATCH)
    assert details("listed", str(users[1].pk)).reason == Reason.DEFAULT
    assert (details("off", "1").value, details("off", "1").reason) == (False, Reason.DISABLED)
    assert (details("all", "1").value, details("all", "1").reason) == (True, Reason.STATIC)
    assert all(details(name, "1").error_code is None for name in kinds)


def test_an_unknown_flag_is_flag_not_found_even_when_the_client_raises(store, caplog):
    ladder.set_provider(WorkshopProvider(FlagClient(store, on_unknown="error")), domain="strict")
    details = api.get_client("strict").get_boolean_details("not_defined_anywhere", True, EvaluationContext("1"))
    assert details.value is True and details.error_code == ErrorCode.FLAG_NOT_FOUND, details
    assert details.reason == Reason.ERROR and "not defined" in details.error_message
    assert not [r for r in caplog.records if r.exc_info], "no traceback logged"


@pytest.mark.parametrize("targeting_key", ["²", "١٢", "alice", "0042"])
def test_targeting_keys_that_are_not_plain_ids_are_answered(committed, flag_key, store, of_client, targeting_key):
    committed(percentage=50)
    assert store.wait_for(lambda d: flag_key in d)
    details = of_client.get_boolean_details(flag_key, False, EvaluationContext(targeting_key))
    assert details.error_code is None and details.reason == Reason.SPLIT, details
    user_id = 42 if targeting_key == "0042" else None
    assert details.value is FlagClient(store).is_on(flag_key, context=FlagContext(targeting_key, user_id))


def test_initialize_reports_a_provider_without_definitions(tmp_path, store):
    from openfeature.provider import ProviderStatus

    nowhere = FlagStore({"host": str(tmp_path), "dbname": "workshop", "user": "workshop"})
    try:
        ladder.set_provider(WorkshopProvider(FlagClient(nowhere)), domain="down")
        down = api.get_client("down")
        assert down.get_provider_status() == ProviderStatus.ERROR
        details = down.get_boolean_details("recommended_for_you", True, EvaluationContext("1"))
        assert details.value is True and details.error_code == ErrorCode.PROVIDER_NOT_READY, details
    finally:
        nowhere.stop()
    ladder.set_provider(WorkshopProvider(FlagClient(store)), domain="up")
    assert api.get_client("up").get_provider_status() == ProviderStatus.READY


def test_unknown_flag_and_wrong_type_are_reported_not_silent(of_client):
    details = of_client.get_boolean_details("not_defined_anywhere", True, EvaluationContext("1"))
    assert details.value is True and details.error_code == ErrorCode.FLAG_NOT_FOUND
    wrong = of_client.get_string_details("not_defined_anywhere", "x", EvaluationContext("1"))
    assert wrong.error_code == ErrorCode.TYPE_MISMATCH


def test_the_product_page_through_openfeature(committed):
    from django.test import Client

    from workshop.flags import ladder
    from workshop.flags.client import get_client

    committed(ladder.RECOMMENDED, everyone=True)
    assert get_client().store.wait_for(lambda d: ladder.RECOMMENDED in d and d[ladder.RECOMMENDED].everyone)
    client = Client()
    client.force_login(User.objects.order_by("id").first())
    assert client.get("/products/1/", {"gate": "openfeature"})["X-Recommended"] == "on"

"""The OpenFeature provider: the vendor-neutral API answers what the workshop client answers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from workshop.flags.client import FlagClient
from workshop.flags.provider import WorkshopProvider
from workshop.flags.rules import FlagContext

pytestmark = pytest.mark.django_db


@pytest.fixture
def of_client(store):
    api.set_provider(WorkshopProvider(FlagClient(store, on_unknown="default")), domain="test")
    yield api.get_client("test")
    api.set_provider(WorkshopProvider(FlagClient(store)), domain="test")


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

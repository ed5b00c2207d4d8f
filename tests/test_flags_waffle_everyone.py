"""What notebook 03 says about django-waffle's request-free check, `Flag.is_active_for_user(user)`,
checked against the installed waffle (5.0): `everyone` is honoured (waffle #491, #561), except that
with everyone=False a listed user or a member of a listed group still gets True (#575, open), and
a percentage never applies (there is no request to roll a die for)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from waffle.models import Flag

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return User.objects.order_by("pk").first()


_NEUTRAL = {"everyone": None, "percent": None, "superusers": False, "staff": False, "authenticated": False}


def _flag(**fields) -> Flag:
    flag, _ = Flag.objects.update_or_create(name="waffle_fact", defaults=dict(_NEUTRAL, **fields))
    flag.users.clear()
    flag.groups.clear()
    return flag


def test_everyone_true_and_false_are_honoured(user):
    assert _flag(everyone=True).is_active_for_user(user) is True
    assert not _flag(everyone=False).is_active_for_user(user)  # None, which callers read as off


def test_everyone_false_is_ignored_for_listed_users_and_groups(user):
    listed = _flag(everyone=False)
    listed.users.add(user)
    listed.save()  # flushes waffle's cached user ids
    assert listed.is_active_for_user(user) is True

    group = Group.objects.create(name="waffle fact group")
    user.groups.add(group)
    in_group = _flag(everyone=False)
    in_group.groups.add(group)
    in_group.save()
    assert in_group.is_active_for_user(user) is True


def test_a_percentage_does_not_apply_without_a_request(user):
    assert not _flag(percent=99.9).is_active_for_user(user)  # the highest percentage waffle stores

"""Creating and changing flags (what an admin page or a deploy script does), with the ORM.
Each change is one transaction; the trigger's NOTIFY goes out when it commits."""

from __future__ import annotations

from collections.abc import Iterable

from workshop.django_setup import require_setup
from workshop.flags import validation

_UNSET = object()


def define(
    key: str,
    *,
    enabled=_UNSET,
    everyone=_UNSET,
    percentage=_UNSET,
    users: Iterable | None = None,
    groups: Iterable | None = None,
    description: str | None = None,
):
    """Create the flag or change the given fields (idempotent: run it twice, same flag).

    users / groups: User and Group objects, ids, or group names; None leaves them as they are."""
    require_setup()
    from django.contrib.auth.models import Group
    from django.db import transaction

    from workshop.flags.models import FlagDefinition

    validation.check_key(key)
    fields = {
        name: value
        for name, value in (
            ("enabled", enabled),
            ("everyone", everyone),
            ("percentage", percentage),
            ("description", description),
        )
        if value is not _UNSET and value is not None
    }
    if "percentage" in fields:
        fields["percentage"] = round(validation.check_percentage(fields["percentage"]), 2)
    with transaction.atomic():
        flag, created = FlagDefinition.objects.select_for_update().get_or_create(key=key, defaults=fields)
        if not created and fields:
            for name, value in fields.items():
                setattr(flag, name, value)
            flag.save()
        if users is not None:
            flag.users.set([getattr(u, "pk", u) for u in users])
        if groups is not None:
            ids = [g.pk if isinstance(g, Group) else g for g in groups]
            names = [g for g in ids if isinstance(g, str)]
            by_name = dict(Group.objects.filter(name__in=names).values_list("name", "id"))
            missing = sorted(set(names) - set(by_name))
            if missing:
                from workshop.errors import WorkshopError

                raise WorkshopError(
                    f"No group named {', '.join(missing)}",
                    f"pick from {', '.join(Group.objects.order_by('name').values_list('name', flat=True))}",
                )
            flag.groups.set([by_name.get(g, g) for g in ids])
    return flag


def delete(key: str) -> bool:
    require_setup()
    from workshop.flags.models import FlagDefinition

    return FlagDefinition.objects.filter(key=key).delete()[0] > 0

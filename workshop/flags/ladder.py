"""The strategy ladder: five ways to gate the product page's "recommended for you" block,
from a setting to the workshop's client. Each gate is `gate(request) -> bool`."""

from __future__ import annotations

import os

RECOMMENDED = "recommended_for_you"  # one name on every rung: env var, waffle switch/flag, workshop flag
ENV_TOGGLE = "WORKSHOP_RECOMMENDED_FOR_YOU"  # rung 1: "1" turns the block on, for everybody, at deploy time


def env_toggle(request) -> bool:
    return os.environ.get(ENV_TOGGLE) == "1"


def waffle_switch(request) -> bool:
    from waffle import switch_is_active

    return switch_is_active(RECOMMENDED)


def waffle_flag(request) -> bool:
    from waffle import flag_is_active

    return flag_is_active(request, RECOMMENDED)


def workshop_client(request) -> bool:
    return request.flags.is_on(RECOMMENDED, default=False)


def openfeature(request) -> bool:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    user = request.user
    context = EvaluationContext(str(user.pk)) if user.is_authenticated else None
    return api.get_client("workshop").get_boolean_value(RECOMMENDED, False, context)


GATES = {
    "env": env_toggle,
    "waffle_switch": waffle_switch,
    "waffle_flag": waffle_flag,
    "workshop": workshop_client,
    "openfeature": openfeature,
}


def use_workshop_provider() -> None:
    """Point OpenFeature at the workshop's flags (once per process)."""
    from openfeature import api

    from workshop.flags.provider import WorkshopProvider

    if not isinstance(api.provider_registry.get_default_provider(), WorkshopProvider):
        set_provider(WorkshopProvider())


def set_provider(provider, domain: str | None = None) -> None:
    """Register a provider and return once it is initialized. openfeature-sdk 0.10 runs
    initialize() in a thread (set_provider_and_wait waits for it), and until then evaluations
    answer PROVIDER_NOT_READY; 0.8 and 0.9 initialize before set_provider returns. A provider
    whose initialize() fails stays registered with status ERROR, which its evaluations report."""
    from openfeature import api
    from openfeature.exception import OpenFeatureError

    register = getattr(api, "set_provider_and_wait", api.set_provider)
    try:
        register(provider, domain) if domain else register(provider)
    except OpenFeatureError:
        pass

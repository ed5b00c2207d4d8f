"""An OpenFeature provider on the workshop's flags, so application code can use the
vendor-neutral API (openfeature-sdk) and keep the workshop's guarantees underneath:

    from openfeature import api
    api.set_provider_and_wait(WorkshopProvider())
    api.get_client().get_boolean_value("recommended_for_you", False, EvaluationContext("42"))

The evaluation context's targeting key is the user id (as text); attribute "user_id" overrides
it and attribute "groups" (a list of group ids) spares the lookup of the user's groups, which
are otherwise those a request would load. The answer is the workshop client's on every rule
(kill switch, everyone, users, groups, percentage, flags.override): inside a request served
with FlagSnapshotMiddleware it comes from the request's own snapshot, so OpenFeature calls
agree with request.flags for the whole request.

Reasons, as the OpenFeature specification defines them: DISABLED (kill switch), STATIC (on for
everyone, or forced by flags.override), TARGETING_MATCH (a listed user or group), SPLIT (the
sticky percentage bucket decided, on or off), DEFAULT (no rule matched: a 0% rollout, or an
anonymous visitor who has no bucket). An unknown flag is FLAG_NOT_FOUND with the caller's
default, whatever the client's unknown-flag policy (OpenFeature evaluations never raise).
"""

from __future__ import annotations

import threading

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from workshop.flags import rules
from workshop.flags.middleware import current_snapshot

REASONS = {
    rules.DISABLED: Reason.DISABLED,
    rules.EVERYONE: Reason.STATIC,
    rules.USER: Reason.TARGETING_MATCH,
    rules.GROUP: Reason.TARGETING_MATCH,
    rules.SPLIT: Reason.SPLIT,
    rules.NO_ROLLOUT: Reason.DEFAULT,
    rules.NO_BUCKET: Reason.DEFAULT,
    "override": Reason.STATIC,  # client.OVERRIDE
}


class WorkshopProvider(AbstractProvider):
    def __init__(self, client=None):
        super().__init__()
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from workshop.flags.client import get_client

            self._client = get_client()
        return self._client

    def get_metadata(self) -> Metadata:
        return Metadata(name="workshop-flags")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Start the flag listener (it waits for its first attempt only). Without definitions
        the provider is not ready (status ERROR, evaluations answer their defaults with
        PROVIDER_NOT_READY) and says READY once the first load succeeds."""
        store = self.client.store.start()
        if store.loaded:
            return

        def ready_when_loaded() -> None:
            while not store.wait_for_version(0, timeout=60):
                pass
            self.emit_provider_ready(ProviderEventDetails(message="flag definitions loaded"))

        threading.Thread(target=ready_when_loaded, name="workshop.flags-provider-ready", daemon=True).start()
        raise ProviderNotReadyError(f"flag definitions not loaded yet: {store.error or store.state}")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        context = _context(evaluation_context, self.client)
        snapshot = current_snapshot()
        if snapshot is None or snapshot.context.targeting_key != context.targeting_key:
            snapshot = self.client.snapshot(context)  # else the request's own: same flags, groups, overrides
        decided = snapshot.decide(flag_key)
        if decided is None:
            return self._not_found(flag_key, default_value)
        value, rule = decided
        return FlagResolutionDetails(
            value, reason=REASONS[rule], variant="on" if value else "off", flag_metadata={"rule": rule}
        )

    def _not_found(self, flag_key: str, default_value: bool) -> FlagResolutionDetails[bool]:
        store = self.client.store
        if not store.loaded:
            return FlagResolutionDetails(
                default_value,
                ErrorCode.PROVIDER_NOT_READY,
                f"flag definitions not loaded yet ({store.error or store.state})",
                Reason.ERROR,
            )
        if (self.client.on_unknown or "default") == "default":
            self.client.unknown(flag_key, default_value)  # counted and warned once, as the client does
        known = ", ".join(sorted(store.definitions)[:8]) or "none"
        return FlagResolutionDetails(
            default_value,
            ErrorCode.FLAG_NOT_FOUND,
            f"flag {flag_key!r} is not defined (defined: {known})",
            Reason.ERROR,
        )

    def _not_boolean(self, flag_key: str, default_value):
        return FlagResolutionDetails(
            default_value,
            ErrorCode.TYPE_MISMATCH,
            f"workshop flags are booleans; {flag_key!r} was asked for another type",
            Reason.ERROR,
        )

    def resolve_string_details(self, flag_key, default_value, evaluation_context=None):
        return self._not_boolean(flag_key, default_value)

    def resolve_integer_details(self, flag_key, default_value, evaluation_context=None):
        return self._not_boolean(flag_key, default_value)

    def resolve_float_details(self, flag_key, default_value, evaluation_context=None):
        return self._not_boolean(flag_key, default_value)

    def resolve_object_details(self, flag_key, default_value, evaluation_context=None):
        return self._not_boolean(flag_key, default_value)


def _context(evaluation_context: EvaluationContext | None, client) -> rules.FlagContext:
    if evaluation_context is None or evaluation_context.targeting_key is None:
        return rules.ANONYMOUS
    attributes = evaluation_context.attributes or {}
    key = evaluation_context.targeting_key
    user_id = _user_id(attributes.get("user_id", key))
    if "groups" in attributes or user_id is None:
        return rules.FlagContext(key, user_id, attributes.get("groups", ()))
    return client.context_for_user_id(user_id, targeting_key=key)


def _user_id(value) -> int | None:
    """An id from an int or ASCII digits ("42"); anything else ("²", "alice") is no user id:
    str.isdigit() is true for "²" and int("²") raises."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        return int(value)
    return None

"""An OpenFeature provider on the workshop's flags, so application code can use the
vendor-neutral API (openfeature-sdk) and keep the workshop's guarantees underneath:

    from openfeature import api
    api.set_provider(WorkshopProvider())
    api.get_client().get_boolean_value("recommended_for_you", False, EvaluationContext("42"))

The evaluation context's targeting key is the user id (as text); attributes "groups" (a list
of group ids) and "user_id" are used when given. Inside a request served with
FlagSnapshotMiddleware the request's snapshot answers, so OpenFeature calls agree with
request.flags for the whole request.
"""

from __future__ import annotations

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from workshop.flags import rules
from workshop.flags.middleware import current_snapshot


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

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        context = _context(evaluation_context)
        snapshot = current_snapshot()
        if snapshot is not None and snapshot.context.targeting_key == context.targeting_key:
            definitions = snapshot.definitions  # the request's frozen view
        else:
            definitions = self.client.store.definitions
        definition = definitions.get(flag_key)
        if definition is None:
            # The client's policy decides: an error in tests, the default plus a warning in production.
            value = self.client.unknown(flag_key, default_value)
            return FlagResolutionDetails(
                value, ErrorCode.FLAG_NOT_FOUND, f"flag {flag_key!r} is not defined", Reason.ERROR
            )
        value = rules.evaluate(definition, context)
        if not definition.enabled:
            why = Reason.DISABLED
        elif definition.everyone or definition.threshold >= rules.BUCKETS:
            why = Reason.STATIC
        elif definition.threshold > 0 and not (definition.user_ids or definition.group_ids):
            why = Reason.SPLIT
        else:
            why = Reason.TARGETING_MATCH
        return FlagResolutionDetails(value, reason=why, variant="on" if value else "off")

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


def _context(evaluation_context: EvaluationContext | None) -> rules.FlagContext:
    if evaluation_context is None or evaluation_context.targeting_key is None:
        return rules.ANONYMOUS
    attributes = evaluation_context.attributes or {}
    key = evaluation_context.targeting_key
    user_id = attributes.get("user_id", int(key) if key.isdigit() else None)
    return rules.FlagContext(key, user_id, attributes.get("groups", ()))

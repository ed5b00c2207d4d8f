"""Feature flags ("Feature flags" notebook, 03): the workshop's flag client.

    from workshop import flags
    flags.define("recommended_for_you", percentage=25)        # create or change (committed: NOTIFY)
    flags.is_on("recommended_for_you", user=user)             # outside a request, same answer
    request.flags.is_on("recommended_for_you")                # in a view: the request's snapshot

Modules: rules (bucketing and evaluation, pure), schema (the tables and the load query),
store (definitions in memory, LISTEN/NOTIFY + periodic refresh), ttl (the TTL-cache model
for comparison), client (snapshots, unknown-flag policy, override), middleware, provider
(OpenFeature), definitions (define/delete), validation, stale (flag debt) and cli,
ladder/views/urls (the demo product page), worker/processes (processes watching a flag,
propagation), requestloop/killswitch (the kill switch under load), grid (10,000 users),
expand_contract, measure/bench, widgets, exercises (solutions apart, in solutions.py).
"""

from workshop.django_setup import lazy_exports

# Names load on first use (PEP 562): `workshop bench` and the CLI import this package
# without a configured Django; used before workshop.setup() they say which cell to run.
_EXPORTS = {
    "define": "definitions",
    "delete": "definitions",
    "is_on": "client",
    "get_client": "client",
    "override": "client",
    "FlagClient": "client",
    "UnknownFlagError": "client",
    "FlagContext": "rules",
    "bucket": "rules",
    "Definition": "rules",
}
__all__ = list(_EXPORTS)

_NEEDS_DJANGO = {"define", "delete", "is_on", "get_client", "override"}


__getattr__ = lazy_exports(__name__, _EXPORTS, needs_django=_NEEDS_DJANGO)

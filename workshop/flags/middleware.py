"""One snapshot of the flags per request, as `request.flags`: a flag cannot change its answer
half-way through a request, even if it is flipped meanwhile."""

from __future__ import annotations

import contextvars

from django.utils.functional import SimpleLazyObject

from workshop.flags import client as flag_client

_current: contextvars.ContextVar = contextvars.ContextVar("workshop_flags_snapshot", default=None)


def current_snapshot():
    """The snapshot of the request being served, if any (the OpenFeature provider uses it)."""
    return _current.get()


class FlagSnapshotMiddleware:
    """Taken on the request's first flag check and kept to its end: requests that check no
    flag cost nothing, and a process that serves none never starts a flag listener."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        def take():
            client = flag_client.get_client()
            return client.snapshot(client.context_for(getattr(request, "user", None)))

        snapshot = SimpleLazyObject(take)
        request.flags = snapshot
        token = _current.set(snapshot)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)

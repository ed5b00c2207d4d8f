"""The flag client: per-request snapshots over the in-memory store, the same answers for
requests and background jobs, and a loud unknown-flag policy.

    from workshop import flags
    flags.is_on("recommended_for_you", user=user)       # anywhere: a job, a command, a shell
    request.flags.is_on("recommended_for_you")           # in a view (FlagSnapshotMiddleware)
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping

import psycopg

from workshop.errors import WorkshopError
from workshop.flags.rules import ANONYMOUS, Definition, FlagContext, decide, evaluate
from workshop.flags.store import RECONNECTING, FlagStore

log = logging.getLogger("workshop.flags")

OVERRIDE = "override"  # the rule name of an answer forced by override()
ENV_ON_UNKNOWN = "WORKSHOP_FLAGS_ON_UNKNOWN"
ON_UNKNOWN = ("error", "default")


class UnknownFlagError(WorkshopError):
    pass


def default_on_unknown() -> str:
    """ "error" under a test runner (and with DEBUG), "default" (warn + declared default) in
    production. The Django setting FLAGS_ON_UNKNOWN or WORKSHOP_FLAGS_ON_UNKNOWN decides
    when set."""
    from django.conf import settings
    from django.core import mail

    chosen = getattr(settings, "FLAGS_ON_UNKNOWN", None) or os.environ.get(ENV_ON_UNKNOWN)
    if chosen:
        return check_on_unknown(chosen)
    # Django's test environment (pytest-django, manage.py test) installs mail.outbox.
    return "error" if hasattr(mail, "outbox") or settings.DEBUG else "default"


def check_on_unknown(value: str) -> str:
    if value not in ON_UNKNOWN:
        raise WorkshopError(
            f"Unknown-flag policy {value!r} is not one of {', '.join(ON_UNKNOWN)}",
            f"set {ENV_ON_UNKNOWN} (or settings.FLAGS_ON_UNKNOWN) to 'error' or 'default'",
        )
    return value


class FlagClient:
    def __init__(self, store: FlagStore, on_unknown: str | None = None):
        self.store = store
        self.on_unknown = check_on_unknown(on_unknown) if on_unknown else None
        self.unknown_seen: dict[str, int] = {}
        self.overrides: dict[str, bool] = {}  # tests: see override()
        self.unloaded_warned = False

    def context_for(self, user) -> FlagContext:
        """The context of a Django user (or None / AnonymousUser): the same for a request and a
        job, which is what makes their answers agree."""
        if user is None or not getattr(user, "is_authenticated", False):
            return ANONYMOUS
        return self.context_for_user_id(user.pk)

    def context_for_user_id(self, user_id: int, targeting_key: str | None = None) -> FlagContext:
        """The context of a user known by id only (a job's payload, an OpenFeature targeting
        key), with the groups a request would load for that user."""
        key = str(user_id) if targeting_key is None else targeting_key
        return FlagContext(key, user_id, load_groups=lambda: self.group_ids_of(user_id))

    def group_ids_of(self, user_id: int) -> frozenset[int]:
        """From the process's membership cache while the listener hears its changes. While it
        reconnects (the database down), the groups last read, else none, without trying the
        database on every check: checks still answer, from the other rules. A store that was
        never started reads every time."""
        memberships = self.store.memberships
        if self.store.state == RECONNECTING:
            return memberships.cached(user_id) or frozenset()
        try:
            return memberships.group_ids(user_id) if self.store.listening else memberships.read(user_id)
        except psycopg.Error as error:
            log.warning("flags: the groups of user %s could not be read (%s): checked without them", user_id, error)
            return frozenset()

    def snapshot(self, context: FlagContext = ANONYMOUS) -> Snapshot:
        """Answers frozen at this moment: for a request, a job, a command."""
        return Snapshot(self, self.store.definitions, context)

    def is_on(self, key: str, user=None, *, context: FlagContext | None = None, default: bool | None = None) -> bool:
        """One check outside a request (a job, a management command): same rules, same answer."""
        return self.snapshot(context or self.context_for(user)).is_on(key, default)

    def unknown(self, key: str, default: bool | None) -> bool:
        if not self.store.loaded:  # nothing loaded yet (the database down at boot): not an unknown flag
            if not self.unloaded_warned:
                self.unloaded_warned = True
                log.warning(
                    "flag definitions not loaded yet (%s): checks answer their declared defaults",
                    self.store.error or self.store.state,
                )
            return bool(default)
        policy = self.on_unknown or default_on_unknown()
        if policy == "error":
            known = ", ".join(sorted(self.store.definitions)[:8]) or "none yet"
            raise UnknownFlagError(
                f"Flag {key!r} is not defined",
                f"define it first (flags.define({key!r}, ...)) or fix the name; defined: {known}",
            )
        self.unknown_seen[key] = self.unknown_seen.get(key, 0) + 1
        if self.unknown_seen[key] == 1:  # once per process and flag: a warning, not a flood
            log.warning("flag %r is not defined: answering its declared default %r", key, bool(default))
        return bool(default)


class Snapshot:
    """The flags as they were when the request began: a flip during the request changes
    nothing here (the store swaps its dict; this keeps the old one), and each flag is
    evaluated once, so repeated checks are a dict lookup."""

    __slots__ = ("client", "definitions", "context", "answers")

    def __init__(self, client: FlagClient, definitions: Mapping[str, Definition], context: FlagContext):
        self.client = client
        self.definitions = definitions
        self.context = context
        self.answers: dict[str, bool] = {}

    def is_on(self, key: str, default: bool | None = None) -> bool:
        answer = self.answers.get(key)
        if answer is not None:
            return answer
        overrides = self.client.overrides
        if overrides and key in overrides:
            answer = overrides[key]
        else:
            definition = self.definitions.get(key)
            answer = evaluate(definition, self.context) if definition is not None else self.client.unknown(key, default)
        self.answers[key] = answer
        return answer

    def decide(self, key: str) -> tuple[bool, str] | None:
        """is_on()'s answer with the rule that gave it (OVERRIDE for flags.override), or None
        for a flag this snapshot does not know (the caller reports it)."""
        overrides = self.client.overrides
        if overrides and key in overrides:
            return overrides[key], OVERRIDE
        definition = self.definitions.get(key)
        if definition is None:
            return None
        answer, rule = decide(definition, self.context)
        return self.answers.setdefault(key, answer), rule


def context_for_user(user) -> FlagContext:
    """FlagClient.context_for on this process's client (its membership cache)."""
    return get_client().context_for(user)


def membership_table() -> tuple[str, str, str]:
    """The user model's groups table and its user and group columns (auth_user_groups, user_id,
    group_id for Django's own User)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    groups = user_model._meta.get_field("groups")
    through = groups.remote_field.through
    relations = [f for f in through._meta.fields if f.is_relation]
    user_column = next(f.column for f in relations if f.related_model is user_model)
    group_column = next(f.column for f in relations if f.related_model is groups.related_model)
    return through._meta.db_table, user_column, group_column


@contextlib.contextmanager
def override(key: str, on: bool, client: FlagClient | None = None) -> Iterator[None]:
    """Force a flag's answer inside the block (tests: run both code paths, see
    tests/test_flags_client.py), like waffle's override_flag, for snapshots taken inside it."""
    from workshop.flags.validation import check_key

    target = client or get_client()
    check_key(key)
    previous = target.overrides.get(key)
    target.overrides[key] = bool(on)
    try:
        yield
    finally:
        if previous is None:
            target.overrides.pop(key, None)
        else:
            target.overrides[key] = previous


# --- the process's client -----------------------------------------------------------------

_lock = threading.Lock()
_client: FlagClient | None = None
_pid: int | None = None


def conninfo() -> dict:
    """Django's connection parameters (the test database under pytest), for our own connections."""
    from workshop.django_setup import require_setup

    require_setup()
    from django.db import connection

    params = connection.get_connection_params()
    info = {
        k: v
        for k, v in params.items()
        if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")
    }
    info["application_name"] = "workshop.flags"
    return {k: v for k, v in info.items() if v not in (None, "")}


def get_client() -> FlagClient:
    """This process's client, its store listening (started once per process, again after a fork)."""
    global _client, _pid
    with _lock:
        if _client is None or _pid != os.getpid():
            store = FlagStore(conninfo(), refresh_seconds=30.0)
            memberships = store.memberships
            memberships.table, memberships.user_column, memberships.group_column = membership_table()
            _client, _pid = FlagClient(store), os.getpid()
        _client.store.start()
        return _client


def shutdown() -> None:
    """Stop this process's listener (tests, before their database is dropped)."""
    global _client
    with _lock:
        if _client is not None:
            _client.store.stop()
        _client = None


def is_on(key: str, user=None, *, default: bool | None = None) -> bool:
    return get_client().is_on(key, user, default=default)

"""Configure Django in this process (a notebook kernel, the CLI, a test) exactly once."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable

from workshop import settings as workshop_settings
from workshop.errors import WorkshopError


def configure(database_url: str) -> None:
    """settings.configure() + django.setup(), safe to call again with the same database."""
    # Jupyter runs an asyncio loop in the kernel's thread; the ORM refuses to run there
    # unless told that this single-user, interactive use is fine.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django
    from django.apps import apps
    from django.conf import settings

    if settings.configured:
        current = settings.DATABASES["default"]
        wanted = workshop_settings.build(database_url)["DATABASES"]["default"]
        keys = ("NAME", "HOST", "PORT", "USER")
        if any(current.get(k) != wanted.get(k) for k in keys):
            raise WorkshopError(
                f"Django in this process already uses database {current.get('NAME')!r} on "
                f"{current.get('HOST') or 'localhost'}, not {wanted.get('NAME')!r} on {wanted.get('HOST') or 'localhost'}",
                "restart the kernel (Kernel > Restart) and run setup() again",
            )
        # A connection may have died since (`workshop db reset`, a server restart): open a
        # fresh one on next use rather than fail on a stale socket.
        from django.db import connections

        connections.close_all()
    else:
        settings.configure(**workshop_settings.build(database_url))
    if not apps.ready:
        if apps.loading:
            raise WorkshopError(
                "A previous Django start-up failed half-way in this process",
                "restart the kernel (Kernel > Restart) and run setup() again",
            )
        django.setup()
    watch_kernel_connections()


def watch_kernel_connections() -> None:
    """In a notebook kernel, check Django's connections before each cell.

    Django drops a broken connection at the start and end of each request; a kernel has no
    requests, so after a cut session (a server restart, pg_terminate_backend) every later
    cell would fail with "the connection is closed". Idempotent; nothing outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _reopen_broken_connections not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", _reopen_broken_connections)


def _reopen_broken_connections(info=None) -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        # Only after an error, and never inside a transaction the learner opened: its
        # atomic block must fail as a whole rather than continue on a new session.
        if connection.connection is None or connection.in_atomic_block or not connection.errors_occurred:
            continue
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()  # the next query opens a fresh session


def require_setup() -> None:
    """Raise the "run the set-up cell first" error when Django is not configured yet.

    Called inside the functions that touch models (or by a PEP 562 module __getattr__), so
    a notebook cell run before the set-up cell says what to run instead of Django's
    ImproperlyConfigured, while the module itself stays importable without Django."""
    from django.conf import settings

    if not settings.configured:
        raise WorkshopError(
            "The workshop is not set up in this kernel yet",
            "run the notebook's first code cell (import workshop; workshop.setup()), then this one again",
        )


def lazy_exports(package: str, exports: dict[str, str], needs_django: Iterable[str] | None = None):
    """A PEP 562 module `__getattr__` for a theme package: `exports` maps a public name to the
    submodule that defines it, imported on first use. The package then imports without a
    configured Django (`workshop bench`, the CLI), while a notebook cell that uses a name
    before workshop.setup() gets the "run the set-up cell first" message. `needs_django`:
    the names that need it (default: all)."""
    checked = set(exports if needs_django is None else needs_django)

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if name in checked:
            require_setup()
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__


def pending_migrations() -> list[str]:
    """Names of migrations not yet applied to the default database."""
    from django.db import connection

    if _all_recorded():
        return []
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def _all_recorded() -> bool:
    """True when every migration file of the installed apps is recorded as applied: then
    Django's plan is empty (it plans the migrations on disk that are not recorded). A folder
    listing and one query, where the plan imports every migration and builds their graph: the
    cost of every setup() after the first, and of every attendee's in a room (their clones
    come migrated). False when unsure, and the plan decides."""
    import pkgutil

    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    on_disk = set()
    for app in apps.get_app_configs():
        module_name, _explicit = MigrationLoader.migrations_module(app.label)
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an app without migrations, or a broken one: the plan decides
            return False
        for _finder, name, is_package in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not is_package and name[0] not in "_~":  # what Django's loader skips
                on_disk.add((app.label, name))
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT app, name FROM django_migrations")
        recorded = set(cursor.fetchall())
    return bool(on_disk) and on_disk <= recorded


MIGRATE_LOCK_KEY = 0x5750_0002  # advisory lock: one migrate at a time per database


def migrate(before: Callable[[], None] | None = None) -> list[str]:
    """Apply pending migrations; returns what was applied. `before`: called first when some are
    pending.

    Two kernels calling setup() at once would both try to create the same tables; the
    second waits on a session-level advisory lock, then finds nothing left to apply."""
    from django.core.management import call_command
    from django.db import connection

    if not pending_migrations():
        return []
    if before is not None:
        before()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
    try:
        pending = pending_migrations()  # what the other process left to do
        if pending:
            call_command("migrate", interactive=False, verbosity=0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
    return pending

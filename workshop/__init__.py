"""The Django workshop's helper package.

In a notebook:

    import workshop
    workshop.setup()

configures Django in the kernel against a real PostgreSQL, applies migrations and loads
the shared shop dataset. Calling it again (or after a kernel restart) is cheap and safe.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see __getattr__
if TYPE_CHECKING:
    from workshop.errors import WorkshopError
    from workshop.status import Status

__all__ = ["setup", "reset", "status", "WorkshopError", "Status"]
__version__ = "0.1.0"

_last_status: Status | None = None


def __getattr__(name: str):
    # The package itself imports nothing: the `workshop` command starts by importing it, and a
    # Ctrl-C before the command's own handler is in place would print a traceback.
    if name == "WorkshopError":
        from workshop.errors import WorkshopError

        return WorkshopError
    if name == "Status":
        from workshop.status import Status

        return Status
    raise AttributeError(f"module 'workshop' has no attribute {name!r}")


def setup(size: str | None = None, *, seed: int | None = None, progress: bool = True) -> Status:
    """Configure Django, start or find PostgreSQL, migrate, and load the dataset if needed.

    size: "tiny", "workshop" (default, or WORKSHOP_DATA_SIZE) or "bench". When a dataset is
    already loaded and no size is asked for, it is kept as it is. Returns a Status, which a
    notebook shows as a small table.
    """
    import gc

    from workshop.errors import WorkshopError, explain

    # A set-up that finds everything done is mostly imports (Django, psycopg, the apps' models),
    # whose objects live as long as the kernel; the cyclic collector's passes over a kernel's heap
    # meanwhile cost a fifth of its CPU (a room of kernels starting at once shares the server's
    # cores). Reference counting still frees what dies; the collector is back when setup()
    # returns, and before migrations or a dataset load (seconds of work that makes garbage).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _setup(size, seed, progress, collecting)
    except WorkshopError:
        raise
    except Exception as exc:
        known = explain(exc)  # a full disk, a lost database connection: one line with the fix
        if known is None:
            raise
        raise known from None  # the cause stays in __context__ for WORKSHOP_DEBUG=1
    finally:
        if collecting:
            gc.enable()


def _setup(size: str | None, seed: int | None, progress: bool, collecting: bool) -> Status:
    global _last_status
    import gc

    from workshop import config, django_setup
    from workshop.errors import WorkshopError
    from workshop.services import elasticsearch, postgres
    from workshop.shop.data import get_size, load, version
    from workshop.status import Status

    started = time.perf_counter()
    wanted = size or config.default_size()
    get_size(wanted)  # an unknown size fails before anything starts
    if seed is not None:
        load.check_seed(seed)
    config.db_name()  # so does a database name PostgreSQL could not take
    db = postgres.resolve()
    django_setup.configure(db.url)

    def collect_again() -> None:
        if collecting:
            gc.enable()

    applied = django_setup.migrate(before=collect_again)
    # Keep whatever dataset is loaded unless asked for another; load() is a no-op when the
    # wanted one is already there (and reloads if the generator or vocabulary changed).
    current = load.current()
    target_size = size or (current.size if current else wanted)
    target_seed = seed if seed is not None else (current.seed if current else version.DEFAULT_SEED)
    if not load.matches(current, target_size, target_seed):  # else load() would find it there too
        collect_again()
        load.load(target_size, target_seed, progress=progress)
        current = load.current()
    if db.source == "classroom":  # the room's copy of this attendee's progress, after a reset too
        from workshop.classroom import room_progress
        from workshop.lessons import progress as local_progress

        try:
            room_progress.push(local_progress.load())
        except WorkshopError:
            pass  # an unreadable progress file is reported where it is used (`workshop progress`)
    search = elasticsearch.find()
    _last_status = Status(
        database=db.safe_url,
        database_source=db.source,
        elasticsearch=search.url or search.problem or "",
        elasticsearch_available=search.available,
        dataset=f"{current.size} (seed {current.seed})",
        row_counts={k: v for k, v in current.row_counts.items() if isinstance(v, int)},
        migrations_applied=tuple(applied),
        seconds=time.perf_counter() - started,
    )
    return _last_status


def reset(chapter: str | int | None = None):
    """Start a chapter ("01".."05"; all when None) again from the same state: its own schemas,
    flags, triggers, outbox and indexes removed, the dataset as loaded (only changed tables are
    restored, from the copy the loader saved). Each chapter's first cell calls it; chapter 01,
    which needs no database, is reset without Django or PostgreSQL (nothing is started)."""
    from workshop.lessons.reset import reset as reset_chapter

    return reset_chapter(chapter)


def status() -> Status | None:
    """The status of the last setup() in this process, if any."""
    return _last_status

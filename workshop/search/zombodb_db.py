"""Where the zombodb backend's database is, and how this process reaches it.

ZomboDB needs PostgreSQL 13-15; the notebooks' embedded server is 16. So the backend
searches the database that has the extension: the default one when it has it (a process
started with WORKSHOP_DATABASE_URL pointing at the ZomboDB server, or docker-compose's
zombodb profile), otherwise the server `workshop zombodb up` runs, added to Django as the
database alias "zombodb" (the same shop dataset, loaded there by the same loader).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from workshop import config
from workshop.errors import WorkshopError

ALIAS = "zombodb"
ENV_DATABASE_URL = "WORKSHOP_ZOMBODB_DATABASE_URL"  # a ZomboDB server of your own (e.g. the Docker profile)
ENV_ES_URL = "WORKSHOP_ZOMBODB_ES_URL"  # the node its indexes live on
ENV_DB_NAME_FOR_ALIAS = "WORKSHOP_ZOMBODB_DB_NAME"  # the tests use their own database there
FIX_UP = "run `workshop zombodb up` (it builds ZomboDB first if needed; `workshop zombodb status` says what is missing)"


# --- the services ------------------------------------------------------------------------


def start(say: Callable[[str], None] = print) -> str:
    """Build if needed, start the OpenSearch node and PostgreSQL 15 with ZomboDB; returns the
    URL of the workshop database there (created, not yet loaded)."""
    from workshop.services import opensearch, postgres, zombodb_build, zombodb_server

    build = zombodb_build.build(say)
    say(f"OpenSearch {opensearch.VERSION} node (the first start downloads it with Maven)")
    node = opensearch.start()
    say(f"  {node}")
    say(f"PostgreSQL {zombodb_build.PG_MAJOR} with the extension")
    server = zombodb_server.ZomboDBPostgres(bin_dir=zombodb_server.layout(None, build)).start()
    db = postgres.ensure_database(server, config.db_name())
    say(f"  {db.safe_url}")
    return db.url


# Run in a child process on the ZomboDB server's database: Django configures one default
# database per process, and that one is the notebooks' embedded server.
_LOAD = """
import workshop
workshop.setup(progress=False)
from workshop.search import zombodb
print(zombodb.install())
"""


def load(url: str, size: str | None = None) -> str:
    """The shop dataset (by the same loader as everywhere) and the ZomboDB indexes in the
    database at `url`; returns what install() said."""
    import subprocess
    import sys

    env = {**os.environ, config.ENV_DATABASE_URL: url, ENV_ES_URL: node_url()}
    if size:
        env[config.ENV_SIZE] = size
    done = subprocess.run([sys.executable, "-c", _LOAD], env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise WorkshopError("Loading the dataset into the ZomboDB server failed (see the output above)", FIX_UP)
    return done.stdout.strip().splitlines()[-1]


def prepare(size: str | None = None) -> str:
    """This process's database on the running ZomboDB server: created, loaded, indexed."""
    from workshop.services import postgres

    url = database_url(required=True)
    server = postgres.with_database(url, "postgres")
    name = unquote(urlsplit(url).path.lstrip("/"))  # database_url() always names one
    db = postgres.ensure_database(postgres.Database(server, "zombodb"), name)
    return load(db.url, size)


def stop() -> list[str]:
    from workshop.services import opensearch, zombodb_server

    server = zombodb_server.ZomboDBPostgres()
    stopped_pg = server.running() and server.stop()
    stopped_node = opensearch.stop()
    return [
        f"PostgreSQL 15 with ZomboDB: {'stopped' if stopped_pg else 'was not running'}",
        f"OpenSearch node: {'stopped' if stopped_node else 'was not running'}",
    ]


def status() -> tuple[list[str], bool]:
    """Lines saying what is built and running (and why not); True when all is up."""
    from workshop.services import opensearch, zombodb_build, zombodb_server

    lines, ok = [], True
    build = zombodb_build.cached()
    if build:
        lines.append(
            f"build     ok: ZomboDB {zombodb_build.ZOMBODB_VERSION} for PostgreSQL {build.pg_version} in {build.folder}"
        )
    else:
        ok = False
        try:
            zombodb_build.check_toolchain()
            why = "not built yet: run `workshop zombodb build`"
        except WorkshopError as exc:
            why = f"cannot build here: {exc}"
        lines.append(f"build     {why}")
    url = zombodb_server.ZomboDBPostgres().url() if build else None
    lines.append(f"postgres  {'running: ' + url if url else 'not running (`workshop zombodb up`)'}")
    node = opensearch.status()
    lines.append(
        f"opensearch {'running: ' + node['url'] + ' (' + node['status'] + ')' if node else 'not running (`workshop zombodb up`)'}"
    )
    return lines, ok and bool(url) and bool(node)


def database_url(required: bool = False) -> str | None:
    """The workshop database on the ZomboDB server, if one runs (or is configured)."""
    explicit = os.environ.get(ENV_DATABASE_URL)
    if explicit:
        return explicit
    from workshop.services import postgres, zombodb_server

    server = zombodb_server.ZomboDBPostgres()
    try:
        url = server.url()
    except WorkshopError:
        url = None
    if url is None:
        if required:
            raise WorkshopError("The ZomboDB server is not running", FIX_UP)
        return None
    return postgres.with_database(url, os.environ.get(ENV_DB_NAME_FOR_ALIAS) or config.db_name())


def node_url() -> str:
    """The URL of ZomboDB's search node, with the trailing slash its index option wants."""
    explicit = os.environ.get(ENV_ES_URL)
    if explicit:
        return explicit
    from workshop.services import opensearch

    found = opensearch.url()
    if not found:
        raise WorkshopError("ZomboDB's OpenSearch node is not running", FIX_UP)
    return found


# --- Django ------------------------------------------------------------------------------


def alias() -> str | None:
    """The database alias the zombodb backend searches: "default" when it has the
    extension, "zombodb" when the ZomboDB server runs beside it, else None."""
    from django.db import connections

    if _has_extension("default"):
        return "default"
    if ALIAS not in connections.settings:
        url = database_url()
        if url is None:
            return None
        _add_alias(url)
    return ALIAS if _has_extension(ALIAS) else None


def use(url: str) -> str:
    """Search the ZomboDB database at `url` from now on (the tests' own database there)."""
    from django.db import connections

    if ALIAS in connections.settings:
        connections[ALIAS].close()
        with contextlib.suppress(AttributeError):  # never opened in this thread
            del connections[ALIAS]
    _add_alias(url)
    return ALIAS


def _add_alias(url: str) -> None:
    from django.db import connections

    from workshop import settings as workshop_settings

    wanted = workshop_settings.build(url)["DATABASES"]["default"]
    # configure_settings fills Django's defaults (TEST, TIME_ZONE, ...) and wants a default alias
    filled = connections.configure_settings({"default": dict(connections.settings["default"]), ALIAS: wanted})
    connections.settings[ALIAS] = filled[ALIAS]


def _has_extension(name: str) -> bool:
    from django.db import connections

    try:
        with connections[name].cursor() as cur:
            # installed, else installable (reading pg_available_extensions lists the server's
            # extension folder: ~1 ms, on every search)
            cur.execute(
                "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'zombodb') "
                "OR EXISTS (SELECT FROM pg_available_extensions WHERE name = 'zombodb')"
            )
            return cur.fetchone()[0]
    except Exception:  # a server that went away: the backend is then unavailable, said by the caller
        return False

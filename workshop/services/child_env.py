"""The environment handed to child processes (psql, pg_dump, the Elasticsearch JVM):
an allow-list, never a copy of ours, so a secret in our environment (the anonymization
key, a database password, a cloud token) never reaches a program that does not need it,
nor another account when we start a service as its own user."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

# What a command-line program needs to find its tools, speak the user's language and write
# temporary files. Nothing that can carry a credential.
BASE_ALLOWED = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TERM",
    "TMPDIR",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "COLUMNS",
    "LINES",
    "PAGER",
)


def allowed_env(
    extra: Iterable[str] = (), *, set_: Mapping[str, str] | None = None, source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A copy of `source` (default os.environ) restricted to BASE_ALLOWED plus `extra`
    names, then updated with `set_`."""
    source = os.environ if source is None else source
    names = set(BASE_ALLOWED) | set(extra)
    env = {k: v for k, v in source.items() if k in names}
    env.update(set_ or {})
    return env


def url_without_password(url: str) -> str:
    """A libpq URL with its password removed (the password travels in a passfile instead)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}@{host}" if user else host).geturl()


@contextmanager
def libpq_env(url: str, extra: Iterable[str] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL without password, environment) for a libpq program (psql, pg_dump).

    The password goes into a private PGPASSFILE (0600, deleted afterwards): neither argv
    (visible to every user in `ps`) nor the child's environment (/proc/<pid>/environ,
    inherited by whatever the child starts) carries it."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    env = allowed_env(
        ("PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGAPPNAME", "PSQLRC", "PSQL_HISTORY", *extra)
    )
    if password is None:
        yield url, env
        return
    fd, name = tempfile.mkstemp(prefix="workshop-pgpass-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            # wildcards: the entry must match whatever host/port/db libpq resolves from the URL
            escaped = password.replace("\\", "\\\\").replace(":", "\\:")
            handle.write(f"*:*:*:*:{escaped}\n")
        env["PGPASSFILE"] = name
        yield url_without_password(url), env
    finally:
        Path(name).unlink(missing_ok=True)

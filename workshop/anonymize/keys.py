"""The secret key behind keyed pseudonyms: from WORKSHOP_ANONYMIZE_KEY, else a key file
generated once in the state folder (mode 0600). Never in the repository.

Only keys derived from it (HMAC(master, purpose)) ever reach PostgreSQL, as query
parameters: the master key stays in this process and out of the server's catalog.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from workshop.errors import WorkshopError

ENV_KEY = "WORKSHOP_ANONYMIZE_KEY"
FILE_NAME = "anonymize.key"
MIN_LENGTH = 16  # bytes; shorter secrets can be brute-forced from a few known pairs


def key_path() -> Path:
    from workshop.services import state

    return state.home() / FILE_NAME


def load_key() -> bytes:
    """The master key: the environment variable wins, else the state folder's key file."""
    value = os.environ.get(ENV_KEY)
    if value is not None:
        return check(value.encode())
    path = key_path()
    if not path.exists():
        _create(path)
    check_private(path)
    return check(path.read_bytes().strip())


def check_private(path: Path, *, platform: str | None = None) -> None:
    """Refuse a key file other users can read (POSIX mode bits).

    On Windows (os.name 'nt') the mode bits are synthesized from the read-only flag
    (a file always looks 0o666): NTFS access is governed by ACLs, and a file under the
    user's profile (where the state folder lives) is private by default, so the POSIX
    check would refuse every key file. platform: os.name by default (tests pass 'nt').
    """
    if (platform or os.name) == "nt":
        return
    if path.stat().st_mode & 0o077:
        raise WorkshopError(f"The anonymization key file {path} is readable by other users", f"run `chmod 600 {path}`")


def check(key: bytes) -> bytes:
    if len(key) < MIN_LENGTH:
        raise WorkshopError(
            f"The anonymization key is {len(key)} bytes long, too short to be secret",
            f"use at least {MIN_LENGTH} random bytes, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`",
        )
    return key


def _create(path: Path) -> None:
    """Write a new key file whole or not at all: a reader never sees it empty or half written.

    The key is written privately and atomically (state.write_private: 0600, fsynced) under
    a name of this process's own, then linked to the key file's name: link() fails if the
    name exists, so two kernels starting at once never replace each other's key.
    """
    from workshop.services import state

    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    state.write_private(candidate, secrets.token_hex(32) + "\n")
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass  # another process made it first: that key is the key
    finally:
        candidate.unlink(missing_ok=True)


def derive(master: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose: leaking it reveals nothing about the master or other sub-keys."""
    return hmac.new(master, f"workshop.anonymize/{purpose}".encode(), hashlib.sha256).digest()

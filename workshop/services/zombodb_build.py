"""Building ZomboDB from its source release, once per machine.

ZomboDB's binaries are for its sponsors only, so the workshop builds the extension with
the tool its release names (cargo-pgrx 0.13.1) against PostgreSQL 15's pg_config. The
result is cached outside the checkout, in one folder per (ZomboDB version, pgrx version,
pg_config version): a second build, or a second clone, finds it and takes seconds.

    ~/.cache/workshop/zombodb/<zombodb>-pgrx<pgrx>-pg<version>/
        src/       the unpacked release, made a git repository (cargo-pgrx reads a commit hash)
        target/    cargo's build folder
        pgrx/      PGRX_HOME (cargo pgrx init's config.toml)
        pkg/       `cargo pgrx package` output: the .so, the control and SQL files
        build.json what was built, from what, and how long it took
        build.log  the tools' output (the last error line is quoted when a step fails)

The same recipe (tarball, pgrx version, features) builds docker/zombodb/Dockerfile.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError
from workshop.services import es_process

ZOMBODB_VERSION = "3000.2.8"
PGRX_VERSION = "0.13.1"
PG_MAJOR = 15  # ZomboDB 3000 supports PostgreSQL 13-15 (features pg13..pg15), not 16
TARBALL = f"zombodb-{ZOMBODB_VERSION}.tar.gz"
# ../shared/vendor/README.md: the v3000.2.8 tag without its large test data
TARBALL_SHA256 = "2c1d4316daf9b94acdb56ddcfc74ab36b224812ee6251239f50286d460bd860a"
TAG_URL = f"https://github.com/zombodb/zombodb/archive/refs/tags/v{ZOMBODB_VERSION}.tar.gz"
ENV_SOURCE = "WORKSHOP_ZOMBODB_SOURCE"  # a tarball of the release, or a folder holding it
ENV_PG_CONFIG = "WORKSHOP_PG_CONFIG"
ENV_CACHE = "WORKSHOP_CACHE"  # default: $XDG_CACHE_HOME/workshop, else ~/.cache/workshop
APT_PACKAGES = "postgresql-15 postgresql-server-dev-15 libclang-dev clang"
FEATURES = ("--no-default-features", "--features", f"pg{PG_MAJOR}")


@dataclass(frozen=True)
class Build:
    """A finished build: where its files are and what it was built from."""

    folder: Path
    pg_config: Path
    pg_version: str
    seconds: float
    cached: bool

    @property
    def package(self) -> Path:
        return self.folder / "pkg"

    def files(self, pg_config_dir: str) -> Path:
        """The package's copy of a pg_config folder (pkglibdir, sharedir)."""
        return self.package / pg_config_dir.lstrip("/")


# --- where things are --------------------------------------------------------------------


def cache_root() -> Path:
    explicit = os.environ.get(ENV_CACHE)
    if explicit:
        return Path(explicit).expanduser() / "zombodb"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "workshop" / "zombodb"


def find_pg_config() -> Path:
    """PostgreSQL 15's pg_config: $WORKSHOP_PG_CONFIG, Debian's, or one on PATH."""
    candidates = [os.environ.get(ENV_PG_CONFIG), f"/usr/lib/postgresql/{PG_MAJOR}/bin/pg_config"]
    candidates += [shutil.which("pg_config"), f"/opt/homebrew/opt/postgresql@{PG_MAJOR}/bin/pg_config"]
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if path.is_file() and pg_version(path).startswith(f"{PG_MAJOR}."):
            return path
    raise WorkshopError(
        f"No PostgreSQL {PG_MAJOR} pg_config found (ZomboDB {ZOMBODB_VERSION} supports PostgreSQL 13-15)",
        f"install it (`apt-get install {APT_PACKAGES}`) or set {ENV_PG_CONFIG} to one",
    )


def pg_version(pg_config: Path) -> str:
    """'15.20' for 'PostgreSQL 15.20 (Debian 15.20-0+deb12u1)'; '' if it does not answer."""
    try:
        out = subprocess.run([str(pg_config), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    found = re.search(r"PostgreSQL (\d+(?:\.\d+)?)", out)
    return found.group(1) if found else ""


def pg_config_value(pg_config: Path, option: str) -> str:
    return subprocess.run([str(pg_config), option], capture_output=True, text=True, check=True).stdout.strip()


def build_folder(pg_config: Path) -> Path:
    """One folder per (ZomboDB, pgrx, pg_config version); the full version string's hash
    tells two builds of one minor version apart (Debian's 15.20-0+deb12u1 vs another's)."""
    full = subprocess.run([str(pg_config), "--version"], capture_output=True, text=True).stdout.strip()
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return cache_root() / f"{ZOMBODB_VERSION}-pgrx{PGRX_VERSION}-pg{pg_version(pg_config)}-{digest}"


def source_tarball() -> Path:
    """The release tarball: $WORKSHOP_ZOMBODB_SOURCE, else shared/vendor/ beside the checkout
    or beside one of its parent folders (a worktree or a clone nested one level deeper)."""
    explicit = os.environ.get(ENV_SOURCE)
    candidates = [Path(explicit).expanduser()] if explicit else []
    candidates += [parent / "shared" / "vendor" for parent in config.CHECKOUT_DIR.parents]
    for candidate in candidates:
        path = candidate / TARBALL if candidate.is_dir() else candidate
        if path.is_file():
            return path
    raise WorkshopError(
        f"ZomboDB's source release {TARBALL} was not found",
        f"download {TAG_URL} and set {ENV_SOURCE} to it",
    )


# --- the toolchain -----------------------------------------------------------------------


def cargo() -> Path:
    found = shutil.which("cargo") or (Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(found).is_file():
        raise WorkshopError("Rust's cargo is needed to build ZomboDB", "install Rust from https://rustup.rs")
    return Path(found)


def check_toolchain() -> tuple[Path, Path]:
    """(cargo, pg_config) when everything the build needs is here; else one line naming
    what to install."""
    cargo_bin = cargo()
    pg_config = find_pg_config()
    server_headers = Path(pg_config_value(pg_config, "--includedir-server")) / "postgres.h"
    if not server_headers.is_file():
        raise WorkshopError(
            f"PostgreSQL {PG_MAJOR}'s server headers are missing ({server_headers})",
            f"install them: `apt-get install postgresql-server-dev-{PG_MAJOR}`",
        )
    if not shutil.which("clang") or not _libclang_found():
        raise WorkshopError(
            "clang and libclang are needed to build ZomboDB (pgrx generates its bindings with them)",
            "install them: `apt-get install clang libclang-dev` (macOS: Xcode's command line tools)",
        )
    if not shutil.which("git"):
        raise WorkshopError("git is needed to build ZomboDB (cargo-pgrx reads a commit)", "install git")
    try:
        out = subprocess.run(
            [str(cargo_bin), "pgrx", "--version"], capture_output=True, text=True, timeout=60, env=_cargo_env()
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    if PGRX_VERSION not in out:
        found = f" (found {out.strip()})" if out.strip() else ""
        raise WorkshopError(
            f"cargo-pgrx {PGRX_VERSION} is needed to build ZomboDB {ZOMBODB_VERSION}{found}",
            f"install it: `cargo install cargo-pgrx --version {PGRX_VERSION} --locked` (about 10 minutes)",
        )
    return cargo_bin, pg_config


def _libclang_found() -> bool:
    explicit = os.environ.get("LIBCLANG_PATH")
    if explicit:
        return any(Path(explicit).glob("libclang*"))
    patterns = ("/usr/lib/llvm-*/lib/libclang*.so*", "/usr/lib/*/libclang*.so*", "/usr/lib64/libclang*.so*")
    return any(Path("/").glob(p.lstrip("/")) for p in patterns) or sys.platform == "darwin"


def _cargo_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    cargo_bin = str(Path.home() / ".cargo" / "bin")
    if cargo_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = f"{env.get('PATH', '')}{os.pathsep}{cargo_bin}"
    env.update(extra or {})
    return env


# --- the build ---------------------------------------------------------------------------


def cached(pg_config: Path | None = None) -> Build | None:
    """The finished build for this machine's PostgreSQL 15, or None."""
    try:
        pg_config = pg_config or find_pg_config()
    except WorkshopError:
        return None
    folder = build_folder(pg_config)
    try:
        record = json.loads((folder / "build.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "pkg").is_dir():
        return None
    return Build(folder, pg_config, record.get("pg_version", ""), float(record.get("seconds", 0)), True)


def build(say: Callable[[str], None] = print) -> Build:
    """Build (or find) the extension; one line per step through `say`."""
    started = time.perf_counter()
    cargo_bin, pg_config = check_toolchain()
    folder = build_folder(pg_config)
    folder.mkdir(parents=True, exist_ok=True)
    with es_process.locked(folder):  # two builds at once (two terminals, CI jobs) would share target/
        found = cached(pg_config)
        if found:
            say(f"zombodb {ZOMBODB_VERSION}: built already in {folder}")
            return found
        tarball = source_tarball()
        log = folder / "build.log"
        log.write_text("")
        src = folder / "src"
        steps = [
            ("checking the source's sha256", lambda: _check_sha256(tarball)),
            (f"unpacking {tarball.name}", lambda: _unpack(tarball, src)),
            ("making it a git repository (cargo-pgrx reads a commit)", lambda: _git_commit(src, log)),
            (
                f"cargo pgrx init --pg{PG_MAJOR} {pg_config}",
                lambda: _run([cargo_bin, "pgrx", "init", f"--pg{PG_MAJOR}", pg_config], src, folder, log),
            ),
            (
                "cargo pgrx package --release (the long step: about 10 minutes on 2 cores)",
                lambda: _package(cargo_bin, pg_config, src, folder, log),
            ),
        ]
        for number, (what, step) in enumerate(steps, 1):
            say(f"[{number}/{len(steps)}] {what}")
            step()
        seconds = time.perf_counter() - started
        record = {
            "zombodb": ZOMBODB_VERSION,
            "pgrx": PGRX_VERSION,
            "pg_config": str(pg_config),
            "pg_version": pg_version(pg_config),
            "source": str(tarball),
            "seconds": round(seconds, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (folder / "build.json").write_text(json.dumps(record, indent=2))
        say(f"zombodb {ZOMBODB_VERSION} built in {seconds / 60:.1f} min into {folder / 'pkg'}")
        return Build(folder, pg_config, record["pg_version"], seconds, False)


def _check_sha256(tarball: Path) -> None:
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise WorkshopError(
            f"{tarball} is not the ZomboDB {ZOMBODB_VERSION} release the workshop knows (sha256 {digest[:12]}...)",
            f"use the tarball of ../shared/vendor/ (sha256 {TARBALL_SHA256[:12]}...)",
        )


def _unpack(tarball: Path, src: Path) -> None:
    if (src / "Cargo.toml").is_file():
        return
    shutil.rmtree(src, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=".src-", dir=src.parent))
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")  # no absolute paths, links out or devices
        (top,) = [p for p in tmp.iterdir() if p.is_dir()]
        top.rename(src)  # a half-unpacked tree never looks unpacked
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _git_commit(src: Path, log: Path) -> None:
    if (src / ".git").is_dir():
        return
    git = ["git", "-c", "user.name=workshop", "-c", "user.email=workshop@localhost", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", f"zombodb v{ZOMBODB_VERSION}"]):
        _run([*git, *args], src, src.parent, log)


def _package(cargo_bin: Path, pg_config: Path, src: Path, folder: Path, log: Path) -> None:
    out = folder / "pkg"
    shutil.rmtree(out, ignore_errors=True)
    _run(
        [cargo_bin, "pgrx", "package", "--pg-config", pg_config, *FEATURES, "--out-dir", folder / "pkg.tmp"],
        src,
        folder,
        log,
    )
    (folder / "pkg.tmp").rename(out)


def _run(cmd: list, cwd: Path, folder: Path, log: Path) -> None:
    env = _cargo_env(
        {
            "PGRX_HOME": str(folder / "pgrx"),
            "CARGO_TARGET_DIR": str(folder / "target"),
            # cargo-pgrx builds the crate a second time in debug mode only to generate the SQL
            # files: without debug info that build compiles and links faster, same output
            "CARGO_PROFILE_DEV_DEBUG": "0",
        }
    )
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(map(str, cmd))}\n")
        handle.flush()
        done = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise WorkshopError(
            f"`{' '.join(map(str, cmd[:3]))}` failed ({_last_error(log)})",
            f"see {log}; a missing system package is named there",
        )


def _last_error(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"(error|Error|fatal)", ln)]
    return ((errors or lines or ["no output"])[0])[:300]

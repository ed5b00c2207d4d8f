"""Running the local Elasticsearch node: its own user when we are root, a private and
allow-listed launch, supervision through a record whose pid is checked, and the log line
that explains a failed start.

Everything lives in <state folder>/elasticsearch/:

    elasticsearch-<version>/   the unpacked distribution (root-owned when we are root)
    config/                    ES_PATH_CONF: a copy of the distribution's config (the keystore lands here)
    data/ logs/ tmp/           path.data, path.logs, ES_TMPDIR (private: 0700, umask 077)
    node.json                  {"pid", "create_time", "url", ...} of the running node
    node.log                   the node's stdout/stderr
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError
from workshop.services import state
from workshop.services.child_env import allowed_env
from workshop.services.es_install import OR_ELSEWHERE

SERVICE_USER = "workshop-es"
PRIVATE_FOLDERS = ("config", "data", "logs", "tmp")
# Popen objects of nodes started by this process, kept so we can reap them (no zombies, no
# "subprocess still running" ResourceWarning when the object would be garbage collected).
_children: dict[int, subprocess.Popen] = {}

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy


# --- the service user and its folders ----------------------------------------------------


def service_user() -> pwd.struct_passwd:
    """The system user the node runs as when we are root, created on first use."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVICE_USER)
    if not shutil.which("useradd"):
        raise WorkshopError(
            f"Elasticsearch refuses to run as root and `useradd` is missing to create {SERVICE_USER}",
            f"create that user yourself, run as a normal user, or {OR_ELSEWHERE}",
        )
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER]
    result = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return pwd.getpwnam(SERVICE_USER)  # also fine if another process created it meanwhile
    except KeyError:
        reason = result.stderr.strip() or f"exit code {result.returncode}"
        raise WorkshopError(
            f"Could not create system user {SERVICE_USER} ({reason})",
            f"create it yourself, run as a normal user, or {OR_ELSEWHERE}",
        ) from None


def check_reachable(es_home: Path, user: pwd.struct_passwd) -> None:
    blocked = [p for p in es_home.resolve().parents if not os.stat(p).st_mode & 0o001]
    if blocked:
        raise WorkshopError(
            f"Elasticsearch runs as user {user.pw_name} (it refuses root) but cannot enter {blocked[-1]}",
            f"allow it (chmod o+x {blocked[-1]}) or set {config.ENV_HOME} to a folder like /var/tmp/django-workshop",
        )


def prepare_folders(base: Path, es_home: Path, user: pwd.struct_passwd | None) -> dict[str, Path]:
    """config/, data/, logs/, tmp/ owned by the account that runs the node, mode 0700.

    As root, nothing the service user can write is ever walked or chowned by root (a
    recursive lchown there is a symlink race: swap a folder for a link to /etc between the
    listing and the chown). A folder is created by root inside root's base folder, filled,
    and handed over with one chown of paths root itself just made."""
    folders = {name: base / name for name in PRIVATE_FOLDERS}
    for name, path in folders.items():
        if path.exists():
            owner = path.lstat().st_uid
            wanted = user.pw_uid if user else os.geteuid()
            if path.is_symlink() or owner != wanted:
                raise WorkshopError(
                    f"{path} belongs to uid {owner}, not to the account that runs Elasticsearch",
                    f"stop the node (`workshop es down`) and delete {path}; it is rebuilt at the next start",
                )
            continue
        fresh = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base))  # 0700, root's, in root's folder
        if name == "config":
            shutil.copytree(es_home / "config", fresh, dirs_exist_ok=True, symlinks=True)
        if user:
            for folder, dirs, files in os.walk(fresh):  # our own fresh copy: nobody else can write it yet
                for entry in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.lchown(entry, user.pw_uid, user.pw_gid)
        os.chmod(fresh, 0o700)
        os.rename(fresh, path)
    _remove_keystore_leftovers(folders["config"])
    return folders


def _remove_keystore_leftovers(config: Path) -> None:
    """A first start interrupted while the node writes its keystore leaves `<name>.keystore.tmp`,
    and every later start then fails (FileAlreadyExistsException). Callers hold the lock and
    found no node running, so such a file is a leftover. Removed through a descriptor of the
    folder opened without following links (the folder belongs to the node's account)."""
    fd = os.open(config, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for name in os.listdir(fd):
            if name.endswith(".keystore.tmp"):
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


# --- launching ---------------------------------------------------------------------------


def child_env(java_home: Path, heap_mb: int, base: Path) -> dict[str, str]:
    """An allow-listed environment: the JVM (and, as root, another account) never sees our
    secrets (WORKSHOP_ANONYMIZE_KEY, database passwords, tokens)."""
    return allowed_env(
        set_={
            "ES_JAVA_HOME": str(java_home),
            # GC logs (up to 2 GB by default) and heap dumps off: a throwaway node on possibly full disks
            "ES_JAVA_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m -XX:-HeapDumpOnOutOfMemoryError "
            f"-Xlog:disable -Xlog:all=warning:stderr {os.environ.get('ES_JAVA_OPTS', '')}".strip(),
            "ES_TMPDIR": str(base / "tmp"),
            "ES_PATH_CONF": str(base / "config"),
            "HOME": str(base),  # the service user has no home folder
        }
    )


def launch(cmd: list[str], es_home: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        os.fchmod(log.fileno(), 0o600)
        proc = subprocess.Popen(
            cmd,
            cwd=es_home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: survives Ctrl-C
            umask=0o077,
        )  # the index files hold shop data: private
    _children[proc.pid] = proc
    return proc


def process_create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks after boot (Linux; None elsewhere). Unlike
    create_time(), the boot time in wall-clock seconds plus these ticks, it does not move when the
    system clock is stepped (psutil issues #2526, #1724): a VM paused for 18 s in a CI run, its
    clock corrected after, made the running node look like someone else's and its record was
    dropped ("port 9201 is already used by a node this state folder did not start")."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    after_name = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(after_name[19])  # field 22 of proc_pid_stat(5); the list starts at field 3


# --- the running node --------------------------------------------------------------------


def health(url: str) -> str | None:
    """The cluster status ("green", "yellow", "red"), or None if nothing answers."""
    try:
        with _opener.open(f"{url}/_cluster/health", timeout=2) as resp:
            return json.loads(resp.read()).get("status")
    except (OSError, ValueError, AttributeError):  # URLError, timeouts, resets, bad JSON
        return None


def is_elasticsearch(url: str) -> bool:
    try:
        with _opener.open(f"{url}/_cluster/health", timeout=2) as resp:
            product = resp.headers.get("X-Elastic-Product")
    except urllib.error.HTTPError as exc:
        product = exc.headers.get("X-Elastic-Product")
    except (OSError, ValueError):
        product = None
    return product == "Elasticsearch"


def wait_healthy(url: str, record: dict, base: Path, timeout: float, launched: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if health(url) in ("green", "yellow"):
            return
        dead = launched.poll() is not None if launched else not alive(record)
        if dead or time.monotonic() > deadline:
            log = Path(record.get("log") or base / "node.log")
            line = last_meaningful_line(log)
            if dead:
                forget(base)
                if launched:
                    _children.pop(launched.pid, None)
                raise WorkshopError(f"Elasticsearch stopped while starting ({line})", f"see {log}")
            if launched:
                terminate(launched.pid, record)  # ours: leave no half-started JVM behind
                forget(base)
            raise WorkshopError(
                f"Elasticsearch did not answer on {url} within {timeout:.0f}s (last log line: {line})",
                f"see {log}; on a slow machine pass a longer start(timeout=...)",
            )
        time.sleep(0.5)


_NOISE = re.compile(
    r"^(at |\.\.\. \d+ more|Caused by: java\.lang\.reflect)|did not exit normally|exited unexpectedly"
    r"|check the logs at|^\w+:$|For complete error details"
)  # "^\w+:$": bare labels like "error:"


def last_meaningful_line(log: Path) -> str:
    """The most telling line of a failed start: the last error, not the generic 'see the logs'."""
    try:  # the console output has everything: launcher errors, JVM errors and the server's log
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    # the JVM says why it could not start on the line after this one
    lines = [
        f"{ln}: {lines[i + 1]}" if ln.startswith("Error occurred during initialization") and i + 1 < len(lines) else ln
        for i, ln in enumerate(lines)
    ]
    useful = [ln for ln in lines if not _NOISE.search(ln)]
    errors = [ln for ln in useful if re.search(r"\b(ERROR|FATAL|[Ee]rror)\b|Exception|failed|could not", ln)]
    pick = (errors or useful or lines or ["nothing logged yet"])[-1]
    return pick[:400]


def alive(record: dict) -> bool:
    """True if the recorded pid is still our Elasticsearch: not a zombie, started when the
    record says (a pid recycled after a reboot or container restart is someone else), and
    running the recorded distribution."""
    import psutil

    pid = int(record.get("pid") or 0)
    if pid <= 0:
        return False
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:  # reaps our own child
        _children.pop(pid, None)
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        ticks = record.get("start_ticks")
        if ticks is not None:
            if start_ticks(pid) != ticks:
                return False
        else:  # elsewhere than Linux (or an older record): the wall-clock start time, to the second
            created = process.create_time()
            expected = record.get("create_time")
            if expected is not None and abs(created - float(expected)) > 1:
                return False
            if expected is None and abs(created - float(record.get("started") or 0)) > 5:
                return False  # a record of an older workshop: launched right before it was written
        cmdline = " ".join(process.cmdline())
    except psutil.AccessDenied:
        return False  # not ours to judge (macOS hides other users' processes): never signal it
    except (psutil.NoSuchProcess, psutil.ZombieProcess, ValueError, TypeError):
        return False
    return bool(record.get("home")) and record["home"] in cmdline


def terminate(pid: int, record: dict, grace: float = 30) -> None:
    def signal_group(sig: int) -> None:
        try:
            try:
                os.killpg(pid, sig)  # the CLI launcher and the server JVM it forked
            except ProcessLookupError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        except PermissionError:
            raise WorkshopError(
                f"No permission to stop the Elasticsearch node (pid {pid})",
                "stop it as the user who started it (or as root)",
            ) from None

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        signal_group(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(record) and not _group_alive(pid):
                _children.pop(pid, None)
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    proc = _children.get(pgid)
    if proc is not None:
        proc.poll()  # reap our own child, or the group looks alive while it is a zombie
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- node.json and the lock -------------------------------------------------------------


def read_record(base: Path) -> dict | None:
    try:
        record = json.loads((base / "node.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "pid" in record and "url" in record else None


def write_record(base: Path, record: dict) -> None:
    state.write_private(base / "node.json", json.dumps(record, indent=2))


def forget(base: Path, only_if_unlocked: bool = False) -> None:
    if only_if_unlocked:  # status() must not remove a record a concurrent start() is writing
        try:
            fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        try:
            (base / "node.json").unlink(missing_ok=True)
        finally:
            os.close(fd)  # closing releases the lock
        return
    (base / "node.json").unlink(missing_ok=True)


@contextlib.contextmanager
def locked(base: Path) -> Iterator[None]:
    """One start/stop/install at a time per state folder, across processes."""
    base.mkdir(parents=True, exist_ok=True, mode=state.folder_mode())
    with open(base / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

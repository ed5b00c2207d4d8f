"""A local Elasticsearch node for tests, CI and laptops without Docker.

The node comes from Elastic's own `integ-test-zip` distribution on Maven Central: a plain
zip (no bundled JDK, only the modules the workshop needs), fetched with `mvn` and run on a
Java 17+ that is already installed. Everything lives in <state folder>/elasticsearch/:

    elasticsearch-<version>/   the unpacked distribution (config/ gets the keystore)
    data/ logs/ tmp/           path.data, path.logs, ES_TMPDIR
    node.json                  {"pid", "url", ...} of the running node
    node.log                   the node's stdout/stderr

`start()` is idempotent and leaves the node running across processes (like the embedded
PostgreSQL); `stop()` ends it. Elasticsearch refuses to run as root, so as root the node runs
as the system user `workshop-es`.
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
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError
from workshop.services import state

ES_VERSION = "8.19.7"
# Elastic publishes this distribution for its own integration tests; it is the only one on Maven Central.
MAVEN_GROUP = "org.elasticsearch.distribution.integ-test-zip"
MAVEN_ARTIFACT = "elasticsearch"
MAVEN_COORDS = f"{MAVEN_GROUP}:{MAVEN_ARTIFACT}:{ES_VERSION}:zip"

ENV_PORT = "WORKSHOP_ES_PORT"
DEFAULT_PORT = 9201  # not 9200, so a Docker stack or a system Elasticsearch can run alongside
HOST = "127.0.0.1"
SERVICE_USER = "workshop-es"
MIN_JAVA = 17

_OR_ELSEWHERE = f"set {config.ENV_ELASTICSEARCH_URL} / start the Docker stack"
_FIX_NO_MAVEN = f"install Maven or {_OR_ELSEWHERE}"
# Popen objects of nodes started by this process, kept so we can reap them (no zombies, no
# "subprocess still running" ResourceWarning when the object would be garbage collected).
_children: dict[int, subprocess.Popen] = {}


# --- public API -------------------------------------------------------------------------


def install(home: Path | None = None) -> Path:
    """The unpacked distribution under <state>/elasticsearch/, downloaded with Maven if needed."""
    base = _base(state.home(home))
    with _locked(base):
        return _install(base)


def start(home: Path | None = None, port: int | None = None, heap_mb: int = 512, timeout: float = 120) -> str:
    """Start the node (or find it already running) and return its URL once yellow or green.

    `port` defaults to $WORKSHOP_ES_PORT, else 9201. A node already recorded in the state
    folder is reused whatever its port.
    """
    port = _default_port() if port is None else port
    base = _base(state.home(home))
    with _locked(base):  # concurrent callers (pytest-xdist, two kernels) wait, then reuse the node
        record = _read_record(base)
        if record and _alive(record):
            # ours, possibly still booting (started by another process): wait for it
            _wait_healthy(record["url"], record, base, timeout, launched=None)
            return record["url"]
        _forget(base)

        es_home = _install(base)
        java_home = _find_java()
        if not _port_free(port):
            other = next((p for p in range(port + 10, port + 100, 10) if _port_free(p) and _port_free(p + 100)),
                         port + 10)
            raise WorkshopError(f"Port {port} on {HOST} is already used by {_who_listens(port)}",
                                f"stop it, or choose another port, e.g. {ENV_PORT}={other} (or start(port={other}))")
        transport = port + 100 if _port_free(port + 100) else _free_port()
        user = _service_user() if os.geteuid() == 0 else None
        dirs = {name: base / name for name in ("data", "logs", "tmp")}
        for folder in dirs.values():
            folder.mkdir(exist_ok=True)
        if user:
            _check_reachable(es_home, user)
            for path in (es_home, *dirs.values()):
                _chown_tree(path, user)

        settings = {
            "discovery.type": "single-node",  # also skips the production bootstrap checks
            "network.host": HOST,
            "http.port": port,
            "transport.port": transport,
            "node.name": "workshop",
            "xpack.security.enabled": "false",  # plain http, no passwords: a local throwaway node
            "cluster.routing.allocation.disk.threshold_enabled": "false",  # full disks keep shards assignable
            "path.data": dirs["data"],
            "path.logs": dirs["logs"],
        }
        cmd = [str(es_home / "bin" / "elasticsearch")] + [f"-E{k}={v}" for k, v in settings.items()]
        if user:
            # setpriv execs (no shell, no PAM session), so the recorded pid is the node itself
            cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *cmd] \
                if shutil.which("setpriv") else ["runuser", "-u", SERVICE_USER, "--", *cmd]
        env = _child_env(java_home, heap_mb, base)
        log_path = base / "node.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=es_home, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # own group: survives Ctrl-C
        _children[proc.pid] = proc
        url = f"http://{HOST}:{port}"
        record = {"pid": proc.pid, "url": url, "port": port, "transport_port": transport, "version": ES_VERSION,
                  "home": str(es_home), "log": str(log_path), "started": time.time()}
        _write_record(base, record)
        _wait_healthy(url, record, base, timeout, launched=proc)
        return url


def stop(home: Path | None = None) -> bool:
    """Stop the recorded node (SIGTERM to its process group, then SIGKILL); True if one was running."""
    base = _base(Path(home) if home else config.state_dir())
    if not base.is_dir():
        return False
    with _locked(base):
        record = _read_record(base)
        stopped = bool(record) and _alive(record)
        if stopped:
            _terminate(record["pid"], record)
        _forget(base)
        return stopped


def status(home: Path | None = None) -> dict | None:
    """{"url", "pid", "version", "status"} if the recorded node answers, else None."""
    base = _base(Path(home) if home else config.state_dir())
    record = _read_record(base)
    if not record:
        return None
    if not _alive(record):
        _forget(base, only_if_unlocked=True)  # stale: the node is gone
        return None
    health = _health(record["url"])
    if health is None:
        return None  # alive but not answering (yet): keep the record
    return {"url": record["url"], "pid": record["pid"], "version": record.get("version", ES_VERSION),
            "status": health}


def recorded_url(home: Path | None = None) -> str | None:
    """The recorded node's URL if it answers health (for service discovery)."""
    info = status(home)
    return info["url"] if info else None


# --- install ----------------------------------------------------------------------------


def _base(home: Path) -> Path:
    return home / "elasticsearch"


def _install(base: Path) -> Path:
    target = base / f"elasticsearch-{ES_VERSION}"
    if (target / "bin" / "elasticsearch").is_file():
        return target
    for leftover in base.glob(".unzip-*"):  # from an interrupted unzip (we hold the lock)
        shutil.rmtree(leftover, ignore_errors=True)
    archive = _zip_path()
    if not archive.is_file():
        _fetch_with_maven()
    # Unzip next to the target and rename: a half-unzipped folder never looks installed.
    tmp = Path(tempfile.mkdtemp(prefix=".unzip-", dir=base))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    path = Path(zf.extract(info, tmp))
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:  # zipfile drops permissions; bin/ needs its exec bits
                        path.chmod(mode)
        except (zipfile.BadZipFile, EOFError) as exc:
            archive.unlink(missing_ok=True)  # a truncated download: fetch again next time
            raise WorkshopError(f"The Elasticsearch download {archive} is corrupt ({exc})",
                                "run the command again to download it afresh") from None
        except OSError as exc:
            raise WorkshopError(f"Could not unpack Elasticsearch into {base} ({exc})",
                                "free some disk space or set WORKSHOP_HOME to another folder") from None
        (tmp / target.name).rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _maven_repo() -> Path:
    explicit = os.environ.get("MAVEN_REPO_LOCAL")
    if explicit:
        return Path(explicit).expanduser()
    settings = Path.home() / ".m2" / "settings.xml"
    if settings.is_file():  # <localRepository> is the one setting people commonly change
        found = re.search(r"<localRepository>\s*([^<]+?)\s*</localRepository>", settings.read_text(errors="replace"))
        if found and "${" not in found.group(1):
            return Path(found.group(1)).expanduser()
    return Path.home() / ".m2" / "repository"


def _zip_path() -> Path:
    folder = _maven_repo().joinpath(*MAVEN_GROUP.split("."), MAVEN_ARTIFACT, ES_VERSION)
    return folder / f"{MAVEN_ARTIFACT}-{ES_VERSION}.zip"


def _fetch_with_maven() -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise WorkshopError(f"Maven (mvn) is needed to download Elasticsearch {ES_VERSION}", _FIX_NO_MAVEN)
    cmd = [mvn, "-q", "-B", "dependency:get", f"-Dartifact={MAVEN_COORDS}", "-Dtransitive=false"]
    if os.environ.get("MAVEN_REPO_LOCAL"):
        cmd.append(f"-Dmaven.repo.local={_maven_repo()}")
    try:
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise WorkshopError("Downloading Elasticsearch with Maven took over 30 minutes",
                            f"retry on a faster network, or {_OR_ELSEWHERE}") from None
    if result.returncode != 0 or not _zip_path().is_file():
        text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # colour codes
        errors = [re.sub(r"\s*-> \[Help \d+\]$", "", line[7:].strip())
                  for line in text.splitlines() if line.startswith("[ERROR]")]
        boilerplate = re.compile(r"(To see the full|Re-run Maven|For more information|\[Help)")
        errors = [line for line in errors if line and not boilerplate.match(line)]
        reason = (errors or [f"exit code {result.returncode}"])[0][:300]
        raise WorkshopError(f"Maven could not download {MAVEN_COORDS} ({reason})",
                            f"check that Maven can reach Maven Central, or {_OR_ELSEWHERE}")


# --- java, user, ports ------------------------------------------------------------------


def _java_major(java_home: Path) -> int | None:
    """Major version of the JDK/JRE at java_home, from its `release` file or by asking it."""
    text = ""
    with contextlib.suppress(OSError):
        text = (java_home / "release").read_text(errors="replace")
    found = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.M)
    if not found:
        java = java_home / "bin" / "java"
        if not os.access(java, os.X_OK):
            return None
        try:
            out = subprocess.run([str(java), "-XshowSettings:properties", "-version"], capture_output=True,
                                 text=True, timeout=30).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"java\.specification\.version = (\S+)", out)
        if not found:
            return None
    parts = re.findall(r"\d+", found.group(1))
    if not parts:
        return None
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 else major  # "1.8.0" -> 8


def _java_candidates() -> Iterator[Path]:
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            yield Path(os.environ[var]).expanduser()
    on_path = shutil.which("java")
    if on_path:
        yield Path(os.path.realpath(on_path)).parent.parent
    # Elasticsearch 8.19 supports 17 and 21 best; after those, the newest first.
    found = [*Path("/usr/lib/jvm").glob("*"),  # Debian/Ubuntu/Fedora
             *Path("/Library/Java/JavaVirtualMachines").glob("*/Contents/Home")]  # macOS
    yield from sorted(found, key=_jvm_rank)


def _jvm_rank(java_home: Path) -> tuple[int, int, str]:
    name = java_home.parent.parent.name if java_home.name == "Home" else java_home.name
    found = re.search(r"(?<!\d)(?:1\.)?(\d+)", name)  # java-17-openjdk, java-1.17.0-openjdk, jdk-21.0.2.jdk
    major = int(found.group(1)) if found else 0
    return ({21: 0, 17: 1}.get(major, 2), -major, name)


def _find_java() -> Path:
    as_root = os.geteuid() == 0
    for java_home in _java_candidates():
        if not (java_home / "bin" / "java").is_file():
            continue
        major = _java_major(java_home)
        if major is None or major < MIN_JAVA:
            continue
        if as_root and not _world_reachable(java_home / "bin" / "java"):
            continue  # e.g. a JDK under /root: the service user could not run it
        return java_home
    raise WorkshopError(f"No Java {MIN_JAVA} or newer found to run Elasticsearch",
                        "install one (e.g. `apt-get install openjdk-17-jre-headless`) or set ES_JAVA_HOME to it")


def _world_reachable(path: Path) -> bool:
    """True if any user can reach path: every ancestor folder has the x bit for others."""
    try:
        return all(os.stat(p).st_mode & 0o001 for p in Path(path).resolve().parents)
    except OSError:
        return False


def _check_reachable(es_home: Path, user: pwd.struct_passwd) -> None:
    blocked = [p for p in es_home.resolve().parents if not os.stat(p).st_mode & 0o001]
    if blocked:
        raise WorkshopError(
            f"Elasticsearch runs as user {user.pw_name} (it refuses root) but cannot enter {blocked[-1]}",
            f"allow it (chmod o+x {blocked[-1]}) or set {config.ENV_HOME} to a folder like /var/tmp/django-workshop")


def _service_user() -> pwd.struct_passwd:
    """The system user the node runs as when we are root, created on first use."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVICE_USER)
    if not shutil.which("useradd"):
        raise WorkshopError(f"Elasticsearch refuses to run as root and `useradd` is missing to create {SERVICE_USER}",
                            f"create that user yourself, run as a normal user, or {_OR_ELSEWHERE}")
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER]
    result = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return pwd.getpwnam(SERVICE_USER)  # also fine if another process created it meanwhile
    except KeyError:
        reason = result.stderr.strip() or f"exit code {result.returncode}"
        raise WorkshopError(f"Could not create system user {SERVICE_USER} ({reason})",
                            f"create it yourself, run as a normal user, or {_OR_ELSEWHERE}") from None


def _chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    for folder, dirs, files in os.walk(root):
        for name in [None, *dirs, *files]:
            path = os.path.join(folder, name) if name else folder
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (user.pw_uid, user.pw_gid):
                os.lchown(path, user.pw_uid, user.pw_gid)


def _default_port() -> int:
    raw = os.environ.get(ENV_PORT, "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise WorkshopError(f"{ENV_PORT}={raw!r} is not a port number", f"set {ENV_PORT} to e.g. {DEFAULT_PORT}")
    return int(raw)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT after a stop is fine
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _who_listens(port: int) -> str:
    try:
        with _opener.open(f"http://{HOST}:{port}/_cluster/health", timeout=2) as resp:
            product = resp.headers.get("X-Elastic-Product")
    except urllib.error.HTTPError as exc:
        product = exc.headers.get("X-Elastic-Product")
    except (OSError, ValueError):
        product = None
    return "an Elasticsearch node this state folder did not start" if product == "Elasticsearch" else "another program"


# --- the running node -------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy


def _health(url: str) -> str | None:
    """The cluster status ("green", "yellow", "red"), or None if nothing answers."""
    try:
        with _opener.open(f"{url}/_cluster/health", timeout=2) as resp:
            return json.loads(resp.read()).get("status")
    except (OSError, ValueError, AttributeError):  # URLError, timeouts, resets, bad JSON
        return None


def _child_env(java_home: Path, heap_mb: int, base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAVA_HOME", None)  # the script only warns that it ignores it
    env.update(
        ES_JAVA_HOME=str(java_home),
        # GC logs (up to 2 GB by default) and heap dumps off: a throwaway node on possibly full disks
        ES_JAVA_OPTS=f"-Xms{heap_mb}m -Xmx{heap_mb}m -XX:-HeapDumpOnOutOfMemoryError "
                     f"-Xlog:disable -Xlog:all=warning:stderr {os.environ.get('ES_JAVA_OPTS', '')}".strip(),
        ES_TMPDIR=str(base / "tmp"),
        HOME=str(base),  # the service user has no home folder
    )
    return env


def _wait_healthy(url: str, record: dict, base: Path, timeout: float, launched: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if _health(url) in ("green", "yellow"):
            return
        dead = launched.poll() is not None if launched else not _alive(record)
        if dead or time.monotonic() > deadline:
            log = Path(record.get("log") or base / "node.log")
            line = _last_meaningful_line(log)
            if dead:
                _forget(base)
                if launched:
                    _children.pop(launched.pid, None)
                raise WorkshopError(f"Elasticsearch stopped while starting ({line})", f"see {log}")
            if launched:
                _terminate(launched.pid, record)  # ours: leave no half-started JVM behind
                _forget(base)
            raise WorkshopError(f"Elasticsearch did not answer on {url} within {timeout:.0f}s (last log line: {line})",
                                f"see {log}; on a slow machine pass a longer start(timeout=...)")
        time.sleep(0.5)


_NOISE = re.compile(r"^(at |\.\.\. \d+ more|Caused by: java\.lang\.reflect)|did not exit normally|exited unexpectedly"
                    r"|check the logs at|^\w+:$|For complete error details")  # "^\w+:$": bare labels like "error:"


def _last_meaningful_line(log: Path) -> str:
    """The most telling line of a failed start: the last error, not the generic 'see the logs'."""
    try:  # the console output has everything: launcher errors, JVM errors and the server's log
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    # the JVM says why it could not start on the line after this one
    lines = [f"{ln}: {lines[i + 1]}" if ln.startswith("Error occurred during initialization") and i + 1 < len(lines)
             else ln for i, ln in enumerate(lines)]
    useful = [ln for ln in lines if not _NOISE.search(ln)]
    errors = [ln for ln in useful if re.search(r"\b(ERROR|FATAL|[Ee]rror)\b|Exception|failed|could not", ln)]
    pick = (errors or useful or lines or ["nothing logged yet"])[-1]
    return pick[:400]


def _alive(record: dict) -> bool:
    """True if the recorded pid is still our Elasticsearch (not a zombie, not a recycled pid)."""
    pid = int(record.get("pid") or 0)
    if pid <= 0:
        return False
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:  # reaps our own child
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    proc_dir = Path(f"/proc/{pid}")
    if proc_dir.is_dir():  # Linux: check it is not a zombie and is really our node
        with contextlib.suppress(OSError):
            if proc_dir.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            cmdline = proc_dir.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            return record.get("home", "") in cmdline
    return True


def _terminate(pid: int, record: dict, grace: float = 30) -> None:
    def signal_group(sig: int) -> None:
        try:
            try:
                os.killpg(pid, sig)  # the CLI launcher and the server JVM it forked
            except ProcessLookupError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        except PermissionError:
            raise WorkshopError(f"No permission to stop the Elasticsearch node (pid {pid})",
                                "stop it as the user who started it (or as root)") from None

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        signal_group(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(record) and not _group_alive(pid):
                _children.pop(pid, None)
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- node.json and the lock -------------------------------------------------------------


def _read_record(base: Path) -> dict | None:
    try:
        record = json.loads((base / "node.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "pid" in record and "url" in record else None


def _write_record(base: Path, record: dict) -> None:
    tmp = base / f".node.json.{os.getpid()}"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, base / "node.json")


def _forget(base: Path, only_if_unlocked: bool = False) -> None:
    if only_if_unlocked:  # status() must not remove a record a concurrent start() is writing
        try:
            fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
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
def _locked(base: Path) -> Iterator[None]:
    """One start/stop/install at a time per state folder, across processes."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


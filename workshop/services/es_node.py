"""A local Elasticsearch node for tests, CI and laptops without Docker: the public API.

`install()` unpacks the distribution (workshop/services/es_install.py: Maven, unzip, Java);
`start()` is idempotent and leaves the node running across processes (like the embedded
PostgreSQL), `stop()` ends it (workshop/services/es_process.py: service user, private
folders, launch, supervision, logs). Elasticsearch refuses to run as root, so as root the
node runs as the system user `workshop-es`.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError
from workshop.services import es_install, es_process, state
from workshop.services.es_install import ES_VERSION, MAVEN_COORDS, zip_path  # noqa: F401 (public names)

ENV_PORT = "WORKSHOP_ES_PORT"
DEFAULT_PORT = 9201  # not 9200, so a Docker stack or a system Elasticsearch can run alongside
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Distribution:
    """What differs between the nodes the workshop runs: the Elasticsearch 8 node here, and
    the OpenSearch node ZomboDB talks to (workshop/services/opensearch.py)."""

    name: str  # its folder in the state folder, and how messages call it
    version: str
    executable: str  # in the unpacked distribution
    env_port: str
    default_port: int
    install: Callable[[Path], Path]  # <state>/<name> -> the unpacked distribution (lock held)
    child_env: Callable[[Path, int, Path], dict[str, str]]  # (java home, heap MB, base folder)
    settings: dict[str, str] = field(default_factory=dict)  # beyond network, ports, paths


ELASTICSEARCH = Distribution(
    name="elasticsearch",
    version=ES_VERSION,
    executable="bin/elasticsearch",
    env_port=ENV_PORT,
    default_port=DEFAULT_PORT,
    install=es_install.install,
    child_env=es_process.child_env,
    settings={"xpack.security.enabled": "false"},  # plain http, no passwords: a local throwaway node
)


ENV_HEAP = "WORKSHOP_ES_HEAP_MB"


def heap_size() -> int:
    text = os.environ.get(ENV_HEAP, "512")
    if not text.isdecimal() or not 128 <= int(text) <= 32768:
        raise WorkshopError(f"{ENV_HEAP}={text[:20]!r} is not a heap size", "use megabytes from 128 to 32768, e.g. 256")
    return int(text)


def install(home: Path | None = None) -> Path:
    """The unpacked distribution under <state>/elasticsearch/, downloaded with Maven if needed."""
    base = _base(state.home(home))
    with es_process.locked(base):
        return es_install.install(base)


def start(
    home: Path | None = None,
    port: int | None = None,
    heap_mb: int | None = None,
    timeout: float = 120,
    dist: Distribution = ELASTICSEARCH,
) -> str:
    """Start the node (or find it already running) and return its URL once yellow or green.

    `port` defaults to $WORKSHOP_ES_PORT, else 9201. A node already recorded in the state
    folder is reused whatever its port. `heap_mb` defaults to $WORKSHOP_ES_HEAP_MB, else 512
    (Binder sets 256: its session has 1-2 GB for everything).
    """
    heap_mb = heap_size() if heap_mb is None else heap_mb
    port = _default_port(dist) if port is None else _check_port(port)
    base = _base(state.home(home), dist)
    with es_process.locked(base):  # concurrent callers (pytest-xdist, two kernels) wait, then reuse the node
        record = es_process.read_record(base)
        if record and es_process.alive(record):
            # ours, possibly still booting (started by another process): wait for it
            es_process.wait_healthy(record["url"], record, base, timeout, launched=None)
            return record["url"]
        es_process.forget(base)

        # The port first: its error must not wait for (or depend on) a download.
        if not _port_free(port):
            other = next(
                (p for p in range(port + 10, port + 100, 10) if _port_free(p) and _port_free(p + 100)), port + 10
            )
            raise WorkshopError(
                f"Port {port} on {HOST} is already used by {_who_listens(port)}",
                f"stop it, or choose another port, e.g. {dist.env_port}={other} (or start(port={other}))",
            )
        es_home = dist.install(base)
        java_home = es_install.find_java()
        transport = port + 100 if _port_free(port + 100) else _free_port()
        user = es_process.service_user() if os.geteuid() == 0 else None
        if user:
            es_process.check_reachable(es_home, user)
        dirs = es_process.prepare_folders(base, es_home, user)

        settings = {
            "discovery.type": "single-node",  # also skips the production bootstrap checks
            "network.host": HOST,
            "http.port": port,
            "transport.port": transport,
            "node.name": "workshop",
            **dist.settings,
            "cluster.routing.allocation.disk.threshold_enabled": "false",  # full disks keep shards assignable
            "path.data": dirs["data"],
            "path.logs": dirs["logs"],
        }
        cmd = [str(es_home / dist.executable)] + [f"-E{k}={v}" for k, v in settings.items()]
        if user:
            # setpriv execs (no shell, no PAM session), so the recorded pid is the node itself
            cmd = (
                ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *cmd]
                if shutil.which("setpriv")
                else ["runuser", "-u", es_process.SERVICE_USER, "--", *cmd]
            )
        env = dist.child_env(java_home, heap_mb, base)
        log_path = base / "node.log"
        proc = es_process.launch(cmd, es_home, env, log_path)
        url = f"http://{HOST}:{port}"
        record = {"pid": proc.pid, "create_time": None}
        try:  # from the launch on: a Ctrl-C anywhere after it must not leave the JVM running
            record = {
                "pid": proc.pid,
                "create_time": es_process.process_create_time(proc.pid),
                "start_ticks": es_process.start_ticks(proc.pid),
                "url": url,
                "port": port,
                "transport_port": transport,
                "version": dist.version,
                "home": str(es_home),
                "log": str(log_path),
            }
            es_process.write_record(base, record)
            es_process.wait_healthy(url, record, base, timeout, launched=proc)
        except KeyboardInterrupt:  # Ctrl-C while it boots: leave no half-started JVM behind
            es_process.terminate(proc.pid, record)
            es_process.forget(base)
            raise
        return url


def stop(home: Path | None = None, dist: Distribution = ELASTICSEARCH) -> bool:
    """Stop the recorded node (SIGTERM to its process group, then SIGKILL); True if one was running."""
    base = _base(Path(home) if home else config.state_dir(), dist)
    if not base.is_dir():
        return False
    with es_process.locked(base):
        record = es_process.read_record(base)
        stopped = bool(record) and es_process.alive(record)
        if stopped:
            es_process.terminate(record["pid"], record)
        es_process.forget(base)
        return stopped


def status(home: Path | None = None, dist: Distribution = ELASTICSEARCH) -> dict | None:
    """{"url", "pid", "version", "status"} if the recorded node answers, else None."""
    info, _silent = probe(home, dist)
    return info


def probe(home: Path | None = None, dist: Distribution = ELASTICSEARCH) -> tuple[dict | None, dict | None]:
    """(status, None) when the recorded node answers; (None, its record) when its process is
    alive but does not answer health (booting, paused, stuck: the one case "no node found"
    would mislead); (None, None) when there is no node. One health request either way."""
    base = _base(Path(home) if home else config.state_dir(), dist)
    record = es_process.read_record(base)
    if not record:
        return None, None
    if not es_process.alive(record):
        es_process.forget(base, only_if_unlocked=True)  # stale: the node is gone
        return None, None
    health = es_process.health(record["url"])
    if health is None:
        return None, record  # alive but not answering (yet): keep the record
    info = {
        "url": record["url"],
        "pid": record["pid"],
        "version": record.get("version", dist.version),
        "status": health,
    }
    return info, None


def recorded_url(home: Path | None = None) -> str | None:
    """The recorded node's URL if it answers health (for service discovery)."""
    info = status(home)
    return info["url"] if info else None


# --- ports ------------------------------------------------------------------------------


def _base(home: Path, dist: Distribution = ELASTICSEARCH) -> Path:
    return home / dist.name


def _check_port(port) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise WorkshopError(
            f"{str(port)[:20]!r} is not a port number", f"pass a port from 1 to 65535, e.g. {DEFAULT_PORT}"
        )
    return port


def _default_port(dist: Distribution = ELASTICSEARCH) -> int:
    raw = os.environ.get(dist.env_port, "").strip()
    if not raw:
        return dist.default_port
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise WorkshopError(
            f"{dist.env_port}={raw[:20]!r} is not a port number", f"set {dist.env_port} to e.g. {dist.default_port}"
        )
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
    if es_process.is_elasticsearch(f"http://{HOST}:{port}"):
        return "an Elasticsearch node this state folder did not start"
    return "another program"

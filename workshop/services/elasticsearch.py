"""Find an Elasticsearch node. Its absence is reported, never fatal: only the search
notebook needs one.

Order: WORKSHOP_ELASTICSEARCH_URL; the local node started by `workshop es up` (recorded
in the state folder); the Docker stack on 127.0.0.1:9200.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from workshop import config
from workshop.errors import WorkshopError

MAJOR = 8  # the server major, the `elasticsearch` client major and docker-compose.yml agree
DOCKER_URL = "http://127.0.0.1:9200"


@dataclass(frozen=True)
class Search:
    url: str | None
    source: str  # "url" | "local node" | "docker" | "none"
    version: str | None = None
    problem: str | None = None  # why there is none, with the fix

    @property
    def available(self) -> bool:
        return self.url is not None


# A node on this machine is never reached through http_proxy/https_proxy (es_node does the
# same): behind a corporate proxy, `es up` would work and setup() would report no node.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_default = urllib.request.build_opener()


def _is_loopback(host: str | None) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _open(request: urllib.request.Request, timeout: float):
    opener = _direct if _is_loopback(urlsplit(request.full_url).hostname) else _default
    return opener.open(request, timeout=timeout)


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a one-line error (file:// and friends would be read by urllib)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "\0" in url
        or any(c.isspace() for c in url)
    ):
        shown = repr(url) if len(url) <= 60 else repr(url[:57]) + "..."
        raise WorkshopError(
            f"{config.ENV_ELASTICSEARCH_URL}={shown} is not an http(s) URL of a node",
            "set it to e.g. http://127.0.0.1:9200, or unset it",
        )
    return url


def health(url: str, timeout: float = 1.5) -> dict:
    """The node's cluster health, or raises OSError/ValueError. GET / is not used: the
    Maven-published test distribution answers it with 405."""
    request = urllib.request.Request(url.rstrip("/") + "/_cluster/health", headers={"Accept": "application/json"})
    with _open(request, timeout) as response:
        if response.headers.get("X-Elastic-Product") != "Elasticsearch":
            raise ValueError("it is not Elasticsearch (no X-Elastic-Product header)")
        return json.loads(response.read())


def version(url: str, timeout: float = 1.5) -> str | None:
    request = urllib.request.Request(url.rstrip("/") + "/_nodes/_local/version")
    try:
        with _open(request, timeout) as response:
            nodes = json.loads(response.read()).get("nodes", {})
            return next(iter(nodes.values()), {}).get("version")
    except (OSError, ValueError):
        return None


def find() -> Search:
    """Where Elasticsearch is, without starting anything."""
    explicit = os.environ.get(config.ENV_ELASTICSEARCH_URL)
    candidates: list[tuple[str, str]] = []
    silent = None  # the local node's record when its process runs but does not answer
    if explicit:
        try:
            candidates.append((check_url(explicit), "url"))
        except WorkshopError as exc:
            return Search(None, "none", problem=str(exc))
    else:
        recorded = None
        # the local node's record lives in <state folder>/elasticsearch/ (es_node); without that
        # folder there is none, and importing es_node's installer and process code costs a
        # kernel's setup() ~20 ms
        try:
            if (config.state_dir() / "elasticsearch").is_dir():
                from workshop.services import es_node

                info, silent = es_node.probe()
                recorded = info["url"] if info else None
        except WorkshopError:
            pass
        if recorded:
            candidates.append((recorded, "local node"))
        if config.docker_allowed():
            candidates.append((DOCKER_URL, "docker"))
    for url, source in candidates:
        try:
            health(url)
        except (OSError, ValueError) as exc:
            if source == "url":
                shown = url if len(url) <= 60 else url[:57] + "..."
                reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                return Search(
                    None,
                    "none",
                    problem=(
                        f"{config.ENV_ELASTICSEARCH_URL}={shown} does not answer ({reason}); start that node or unset the variable"
                    ),
                )
            continue
        found = version(url)
        if found and not found.startswith(f"{MAJOR}."):
            return Search(
                None,
                "none",
                found,
                problem=(
                    f"Elasticsearch at {url} is version {found}, the workshop needs {MAJOR}.x; use docker-compose.yml's node"
                ),
            )
        return Search(url, source, found)
    if silent:
        return Search(
            None,
            "none",
            problem=(
                f"the local node at {silent['url']} (pid {silent['pid']}) runs but does not answer: it may be "
                "starting or paused; wait and retry, or `workshop es down` then `workshop es up`"
            ),
        )
    return Search(
        None,
        "none",
        problem=(
            "no Elasticsearch found; run `workshop es up` (needs Java 17+ and Maven), `docker compose up -d`, "
            f"or set {config.ENV_ELASTICSEARCH_URL}"
        ),
    )


def client(search: Search | None = None):
    """An elasticsearch-py client for the node found, or a WorkshopError saying how to get one."""
    from elasticsearch import Elasticsearch

    search = search or find()
    if not search.available:
        raise WorkshopError("Elasticsearch is not available", search.problem or "run `workshop es up`")
    return Elasticsearch(search.url, request_timeout=30)

"""Elasticsearch without Maven (Binder, most laptops): the artifact is downloaded over HTTP
from a Maven repository layout and kept only when its published SHA-1 matches."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from workshop.errors import WorkshopError
from workshop.services import es_install

COORDS = "org.example.workshop:thing:1.2.3:zip"


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A Maven repository layout served on 127.0.0.1, and a local repository to fill."""
    served = tmp_path / "served"
    folder = served / "org/example/workshop/thing/1.2.3"
    folder.mkdir(parents=True)
    payload = b"PK\x03\x04 not really a zip " * 5000
    (folder / "thing-1.2.3.zip").write_bytes(payload)
    (folder / "thing-1.2.3.zip.sha1").write_text(hashlib.sha1(payload).hexdigest() + "  thing-1.2.3.zip\n")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(served))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(es_install.ENV_MAVEN_URL, f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("MAVEN_REPO_LOCAL", str(tmp_path / "m2"))
    yield folder, payload
    server.shutdown()


def test_downloads_and_checks_the_sha1(repository):
    _folder, payload = repository
    target = es_install.fetch_direct(COORDS)
    assert target == es_install.artifact_path(COORDS) and target.read_bytes() == payload
    assert not list(target.parent.glob(".*.part"))


def test_a_mismatching_download_is_not_kept(repository):
    folder, _payload = repository
    (folder / "thing-1.2.3.zip.sha1").write_text("0" * 40)
    with pytest.raises(WorkshopError, match="does not match its published SHA-1"):
        es_install.fetch_direct(COORDS)
    assert not es_install.artifact_path(COORDS).exists()
    assert not list(es_install.artifact_path(COORDS).parent.glob(".*.part"))


def test_a_missing_artifact_is_one_line(repository):
    with pytest.raises(WorkshopError, match="Could not download org.example.workshop:nothing"):
        es_install.fetch_direct("org.example.workshop:nothing:1.0:zip")


def test_heap_size_comes_from_the_environment(monkeypatch):
    from workshop.services import es_node

    monkeypatch.setenv(es_node.ENV_HEAP, "256")
    assert es_node.heap_size() == 256
    monkeypatch.setenv(es_node.ENV_HEAP, "lots")
    with pytest.raises(WorkshopError, match="not a heap size"):
        es_node.heap_size()

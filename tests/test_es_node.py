"""The local Elasticsearch node manager's guard rails (the node itself is exercised by
test_elasticsearch.py against the node `make test` starts)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from workshop.errors import WorkshopError
from workshop.services import es_node


@pytest.fixture
def es_home(state_home):
    if not (shutil.which("mvn") or es_node._zip_path().is_file()):
        if os.environ.get("CI"):
            pytest.fail("CI must provide Maven or the Elasticsearch zip")
        pytest.skip("no Maven and no Elasticsearch zip: cannot install a node here")
    return state_home


def test_install_unpacks_a_runnable_distribution_once(es_home):
    first = es_node.install(es_home)
    assert (first / "bin" / "elasticsearch").is_file()
    assert es_node.install(es_home) == first
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".unzip")]  # no half-unpacked leftovers


def test_a_port_held_by_another_program_is_one_line_naming_the_port_and_the_fix(es_home):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(WorkshopError) as err:
            es_node.start(es_home, port=port)
    message = str(err.value)
    assert f"Port {port}" in message and es_node.ENV_PORT in message and "\n" not in message
    assert es_node.status(es_home) is None


def test_status_and_stop_without_a_node_say_so(tmp_path):
    assert es_node.status(tmp_path / "state") is None
    assert es_node.stop(tmp_path / "state") is False
    assert es_node.recorded_url(tmp_path / "state") is None

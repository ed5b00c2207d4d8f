"""ZomboDB's services without Docker: the cached build, PostgreSQL 15 from a private layout,
the OpenSearch node with Painless and analysis-common (all real: real pg_config, real
PostgreSQL 15 processes, a real OpenSearch node)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.services import opensearch, zombodb_build, zombodb_server

pytestmark = pytest.mark.zombodb

needs_pg15 = pytest.mark.skipif(
    not Path(f"/usr/lib/postgresql/{zombodb_build.PG_MAJOR}/bin/pg_config").is_file() and not os.environ.get("CI"),
    reason="PostgreSQL 15 is not installed here (`apt-get install postgresql-15`)",
)


@needs_pg15
def test_the_build_folder_is_keyed_on_zombodb_pgrx_and_the_pg_config_version(monkeypatch, tmp_path):
    monkeypatch.setenv(zombodb_build.ENV_CACHE, str(tmp_path))
    pg_config = zombodb_build.find_pg_config()
    folder = zombodb_build.build_folder(pg_config)
    version = zombodb_build.pg_version(pg_config)
    assert version.startswith("15.")
    assert folder.parent == tmp_path / "zombodb"  # outside the checkout
    assert folder.name.startswith(f"3000.2.8-pgrx0.13.1-pg{version}-")
    assert zombodb_build.cached(pg_config) is None  # nothing built in an empty cache


def test_a_missing_rust_toolchain_is_one_line_naming_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no cargo anywhere
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(WorkshopError) as caught:
        zombodb_build.check_toolchain()
    assert "cargo" in str(caught.value) and "rustup.rs" in str(caught.value) and "\n" not in str(caught.value)


def test_a_tarball_that_is_not_the_known_release_is_refused(tmp_path):
    fake = tmp_path / zombodb_build.TARBALL
    fake.write_bytes(b"not zombodb")
    with pytest.raises(WorkshopError, match="is not the ZomboDB 3000.2.8 release"):
        zombodb_build._check_sha256(fake)


def test_the_shared_tarball_is_found_and_has_the_known_checksum():
    tarball = zombodb_build.source_tarball()
    zombodb_build._check_sha256(tarball)  # raises on any other file


@needs_pg15
def test_postgres_15_runs_from_the_private_layout_with_the_extensions_files(state_home, tmp_path):
    """The layout links the system's PostgreSQL 15 and adds the package's files; the server
    started from it has its own data folder, a unix socket only, and finds them."""
    state_home.parent.chmod(0o755)
    pg_config = zombodb_build.find_pg_config()
    pkglibdir = zombodb_build.pg_config_value(pg_config, "--pkglibdir")
    package = tmp_path / "build"
    (package / "pkg" / pkglibdir.lstrip("/")).mkdir(parents=True)
    (package / "pkg" / pkglibdir.lstrip("/") / "zombodb.so").write_bytes(b"")
    build = zombodb_build.Build(package, pg_config, zombodb_build.pg_version(pg_config), 0.0, True)
    bin_dir = zombodb_server.layout(state_home, build)
    assert (bin_dir.parent / "lib" / "zombodb.so").is_file()
    assert (bin_dir.parent / "lib" / "plpgsql.so").is_symlink()
    server = zombodb_server.ZomboDBPostgres(state_home, bin_dir=bin_dir)
    try:
        db = server.start()
        with db.connect() as conn:
            version, listen, pkglib = conn.execute(
                "SELECT current_setting('server_version_num'), current_setting('listen_addresses'), "
                "current_setting('data_directory')"
            ).fetchone()
        assert version.startswith("15") and listen == ""  # no TCP at all
        assert Path(pkglib) == server.pgdata
        assert zombodb_server.ZomboDBPostgres(state_home).running()  # found again from its pid file
    finally:
        zombodb_server.ZomboDBPostgres(state_home).stop()
    assert not zombodb_server.ZomboDBPostgres(state_home).running()


@pytest.fixture(scope="module")
def node():
    """The OpenSearch node (started if needed; `workshop zombodb up` starts it in CI)."""
    from workshop.services import es_install

    try:
        es_install.find_java()
    except WorkshopError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Java for the OpenSearch node: {exc}")
        pytest.skip(str(exc))
    return opensearch.start()


def _get(url: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body else None, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def test_the_opensearch_node_reports_7x_and_runs_painless_and_the_pattern_tokenizer(node):
    assert node.startswith("http://127.0.0.1:")
    assert _get(node)["version"]["number"].startswith("7.")  # what ZomboDB accepts
    modules = {m["name"] for n in _get(f"{node}/_nodes/plugins")["nodes"].values() for m in n["modules"]}
    assert {"lang-painless", "analysis-common"} <= modules
    assert _get(f"{node}/_scripts/painless/_execute", {"script": {"source": "params.a + 1", "params": {"a": 41}}}) == {
        "result": "42"
    }
    tokens = _get(f"{node}/_analyze", {"tokenizer": {"type": "pattern", "pattern": "_"}, "text": "brass_lamp"})
    assert [t["token"] for t in tokens["tokens"]] == ["brass", "lamp"]


def test_the_opensearch_node_listens_on_localhost_only(node):
    port = node.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    local = [line.split()[3] for line in listening.strip().splitlines()]
    # 127.0.0.1, or its IPv4-mapped form [::ffff:127.0.0.1]: loopback either way
    assert local and all(address.rsplit(":", 1)[0].strip("[]").endswith("127.0.0.1") for address in local)


def test_status_says_what_is_built_and_running_and_exits_1_unless_all_is():
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "zombodb", "status"], capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["build", "postgres", "opensearch"]
    built = zombodb_build.cached() is not None
    assert lines[0].startswith("build     ok:") == built
    if not built:
        assert "workshop zombodb build" in lines[0] or "cannot build here" in lines[0]
    everything = built and all(" running: " in line for line in lines[1:])
    assert done.returncode == (0 if everything else 1)

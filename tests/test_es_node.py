"""The local Elasticsearch node manager's guard rails (the node itself is exercised by
test_elasticsearch.py against the node `make test` starts, and by tests/faults/)."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.services import es_install, es_node, es_process


@pytest.fixture
def es_home(state_home):
    """A state folder with the distribution installed; outside CI a missing Maven or a failed
    download is a skip with the reason, in CI a failure."""
    try:
        es_node.install(state_home)
    except WorkshopError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to install Elasticsearch: {exc}")
        pytest.skip(f"cannot install an Elasticsearch node here: {exc}")
    return state_home


def test_install_unpacks_a_runnable_distribution_once(es_home):
    first = es_node.install(es_home)
    assert (first / "bin" / "elasticsearch").is_file()
    assert es_node.install(es_home) == first
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".unzip")]  # no half-unpacked leftovers


def test_a_port_held_by_another_program_is_one_line_naming_the_port_and_the_fix(state_home, monkeypatch, tmp_path):
    # No Maven and an empty Maven repository: the port's error must not depend on a download.
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("MAVEN_REPO_LOCAL", str(tmp_path / "empty-m2"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(WorkshopError) as err:
            es_node.start(state_home, port=port)
    message = str(err.value)
    assert f"Port {port}" in message and es_node.ENV_PORT in message and "\n" not in message
    assert es_node.status(state_home) is None


def test_status_and_stop_without_a_node_say_so(tmp_path):
    assert es_node.status(tmp_path / "state") is None
    assert es_node.stop(tmp_path / "state") is False
    assert es_node.recorded_url(tmp_path / "state") is None


def test_with_home_set_to_an_empty_folder_the_download_is_looked_for_where_maven_puts_it(monkeypatch, tmp_path):
    """Java (so Maven) takes user.home from the account database, not from $HOME; CI and
    containers often set HOME to an empty folder. The workshop tells Maven where to put
    the artifact and looks there."""
    monkeypatch.delenv("MAVEN_REPO_LOCAL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    repo = es_install.maven_repo()
    assert not str(repo).startswith(str(tmp_path)), repo  # Maven would not write under $HOME
    assert es_install.maven_command("mvn")[-1] == f"-Dmaven.repo.local={repo}"
    assert es_install.zip_path().is_relative_to(repo)
    monkeypatch.setenv("MAVEN_REPO_LOCAL", str(tmp_path / "m2"))
    assert es_install.maven_command("mvn")[-1] == f"-Dmaven.repo.local={tmp_path / 'm2'}"


def test_the_jvm_gets_an_allow_listed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", "k" * 64)
    monkeypatch.setenv("PGPASSWORD", "pw")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws")
    env = es_process.child_env(Path("/usr/lib/jvm/x"), 256, tmp_path)
    assert not {"WORKSHOP_ANONYMIZE_KEY", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY"} & set(env)
    assert env["ES_JAVA_HOME"] == "/usr/lib/jvm/x" and env["ES_PATH_CONF"] == str(tmp_path / "config")
    assert "PATH" in env


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands folders to the service user")
def test_as_root_a_planted_symlink_is_refused_and_nothing_outside_is_chowned(es_home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("root's")
    base = es_home / "elasticsearch"
    (base / "data").symlink_to(victim)  # what a service user could do between two starts
    with pytest.raises(WorkshopError, match="data"):
        es_node.start(es_home, port=_free_port())
    assert (victim / "secret").stat().st_uid == 0 and victim.stat().st_uid == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands folders to the service user")
def test_as_root_the_distribution_stays_roots_and_the_private_folders_are_0700(es_home):
    import pwd

    user = es_process.service_user()
    base = es_home / "elasticsearch"
    es_home_dir = es_node.install(es_home)
    folders = es_process.prepare_folders(base, es_home_dir, user)
    assert es_home_dir.stat().st_uid == 0  # the programs root runs are never the service user's
    assert not any(p.stat().st_mode & 0o022 for p in es_home_dir.rglob("*") if not p.is_symlink())
    for path in folders.values():
        assert path.stat().st_uid == pwd.getpwnam(es_process.SERVICE_USER).pw_uid
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (folders["config"] / "jvm.options").is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_recycled_pid_in_the_record_is_not_our_node(tmp_path):
    """After a reboot the recorded pid may be any process, even one whose command line
    happens to mention our folder: the start time tells them apart."""
    import subprocess
    import time

    home = str(tmp_path / "elasticsearch-x")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", home])
    try:
        time.sleep(0.1)
        record = {
            "pid": bystander.pid,
            "url": "http://127.0.0.1:1",
            "home": home,
            "create_time": es_process.process_create_time(bystander.pid) - 3600,
        }
        assert es_process.alive(record) is False
        record["create_time"] += 3600
        assert es_process.alive(record) is True  # the same process, when the times agree
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="clock ticks after boot are read from /proc")
def test_our_node_stays_ours_when_the_system_clock_is_stepped(tmp_path):
    """The record keeps the start in clock ticks after boot: a wall-clock start time that moved
    (psutil's create_time() follows a stepped clock, e.g. a VM paused then corrected) does not
    make the running node someone else's, and a recycled pid still does not pass."""
    import subprocess
    import time

    home = str(tmp_path / "elasticsearch-x")
    node = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", home])
    try:
        time.sleep(0.1)
        ticks = es_process.start_ticks(node.pid)
        assert isinstance(ticks, int) and ticks > 0
        record = {
            "pid": node.pid,
            "url": "http://127.0.0.1:1",
            "home": home,
            "create_time": es_process.process_create_time(node.pid) + 18,  # the clock stepped by 18 s
            "start_ticks": ticks,
        }
        assert es_process.alive(record) is True
        record["start_ticks"] = ticks - 1  # another process that got the same pid
        assert es_process.alive(record) is False
    finally:
        node.kill()
        node.wait()

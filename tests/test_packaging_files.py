"""The packaging files agree with pyproject.toml and with the code, and the Binder scripts work.

environment.yml, binder/environment.yml, binder/postBuild, binder/start and
docker-compose.yml are not used by `make test`, so nothing else would notice when they drift
from pyproject.toml or from the constants in workshop/services/. No database is needed except
for the tests that run the Binder scripts, which start their own embedded PostgreSQL in a
temporary folder and stop it again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
ENVIRONMENT = REPO / "environment.yml"
BINDER = REPO / "binder"
BINDER_ENVIRONMENT = BINDER / "environment.yml"
POST_BUILD = BINDER / "postBuild"
START = BINDER / "start"
COMPOSE = REPO / "docker-compose.yml"

# PyPI name (canonical) -> conda-forge name, where they differ.
CONDA_NAMES = {
    "matplotlib": "matplotlib-base",  # the same library without the Qt GUI toolkit
}
# What a conda environment file may list beyond the project's own dependencies.
CONDA_TOOLING = {"python", "pip"}
# The project itself, installed from the checkout by the top-level environment.yml only.
LOCAL_PROJECT = "-e ."


# --- a reader for the YAML these files use -------------------------------------------------
# PyYAML is not a dependency of the project. These files use only block mappings, block
# sequences of scalars, quoted or plain scalars and comments, which this reader handles; when
# PyYAML happens to be installed, a test checks that both readers agree.


def _strip_comment(line: str) -> str:
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str) -> str | None:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("", "~", "null"):
        return None
    return text


def _split_key(text: str) -> tuple[str, str] | None:
    """'key: value' -> (key, value); None when the text is not a mapping entry."""
    if text[0] in "'\"":
        return None
    if text.endswith(":"):
        return text[:-1].strip(), ""
    key, sep, value = text.partition(": ")
    return (key.strip(), value) if sep else None


def _parse_block(lines: list[tuple[int, str]], pos: int, indent: int):
    if lines[pos][1].startswith("- "):
        items = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            content = lines[pos][1][2:].strip()
            pos += 1
            entry = _split_key(content)
            if entry is not None and not entry[1]:  # "- key:" opening a mapping
                key = entry[0]
                if pos < len(lines) and lines[pos][0] > indent:
                    value, pos = _parse_block(lines, pos, lines[pos][0])
                else:
                    value = None
                items.append({key: value})
            elif entry is not None:
                raise ValueError(f"unsupported YAML (a mapping inside a sequence): {content!r}")
            else:
                items.append(_scalar(content))
        return items, pos
    mapping: dict = {}
    while pos < len(lines) and lines[pos][0] == indent:
        entry = _split_key(lines[pos][1])
        if entry is None:
            raise ValueError(f"unsupported YAML: {lines[pos][1]!r}")
        key, value = entry
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        pos += 1
        if value.strip():
            if value.strip()[0] in "[{|>&*!":
                raise ValueError(f"unsupported YAML (flow or block scalar): {value!r}")
            mapping[key] = _scalar(value)
        elif pos < len(lines) and lines[pos][0] > indent:
            mapping[key], pos = _parse_block(lines, pos, lines[pos][0])
        elif pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            mapping[key], pos = _parse_block(lines, pos, indent)
        else:
            mapping[key] = None
    return mapping, pos


def parse_yaml(text: str):
    lines = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError("tabs in indentation")
        line = _strip_comment(raw).rstrip()
        if line.strip() and line.strip() != "---":
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    if not lines:
        return None
    value, pos = _parse_block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise ValueError(f"could not parse from line {lines[pos][1]!r}")
    return value


def load_yaml(path: Path):
    return parse_yaml(path.read_text())


def _stringify(value):
    """PyYAML's output with scalars as strings, as parse_yaml gives them."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return None if value is None else str(value)


# --- reading the files ------------------------------------------------------------------------


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def runtime_requirements() -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in pyproject()["project"]["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


CONDA_SPEC = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def split_environment(env: dict) -> tuple[dict[str, SpecifierSet], dict[str, Requirement], list[str]]:
    """(conda packages, pip requirements, pip options such as `-e .`) of an environment file."""
    conda: dict[str, SpecifierSet] = {}
    pip: dict[str, Requirement] = {}
    options: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"unexpected entry {dep}"
            for line in dep["pip"]:
                if line.startswith("-"):
                    options.append(line)
                    continue
                req = Requirement(line)
                name = canonicalize_name(req.name)
                assert name not in pip, f"{name} listed twice under pip:"
                pip[name] = req
            continue
        match = CONDA_SPEC.match(dep)
        assert match, f"cannot read conda spec {dep!r}"
        name, spec = match.group(1).lower(), match.group(2).replace(" ", "")
        if re.fullmatch(r"=\d+(\.\d+)*", spec):  # conda's `python=3.12` means 3.12.*
            spec = f"=={spec[1:]}.*"
        assert name not in conda, f"{name} listed twice"
        conda[name] = SpecifierSet(spec)  # raises on conda-only syntax such as `=1.2`
    return conda, pip, options


@pytest.fixture(scope="module")
def environment() -> dict:
    return load_yaml(ENVIRONMENT)


@pytest.fixture(scope="module")
def binder_environment() -> dict:
    return load_yaml(BINDER_ENVIRONMENT)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


def es_version() -> str:
    """workshop.services.es_node.ES_VERSION (set in es_install.py), from the file's text if the module does not import."""
    try:
        from workshop.services import es_node

        return es_node.ES_VERSION
    except Exception:
        text = (REPO / "workshop" / "services" / "es_install.py").read_text()
        match = re.search(r'^ES_VERSION\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
        assert match, "no ES_VERSION in workshop/services/es_install.py"
        return match.group(1)


# --- the YAML reader itself -------------------------------------------------------------------


def test_yaml_reader_handles_what_the_files_use():
    text = """
# comment
name: x   # trailing comment
list:
  - a>=1,<2
  - "quoted: yes"
  - -e .
  - pip:
      - b[extra]>=3
same_indent:
- one
nested:
  key.with.dots: "false"
  empty:
url: "http://h:1/p?a=b#frag"
"""
    assert parse_yaml(text) == {
        "name": "x",
        "list": ["a>=1,<2", "quoted: yes", "-e .", {"pip": ["b[extra]>=3"]}],
        "same_indent": ["one"],
        "nested": {"key.with.dots": "false", "empty": None},
        "url": "http://h:1/p?a=b#frag",
    }
    with pytest.raises(ValueError):
        parse_yaml("a: [1, 2]\n")


@pytest.mark.parametrize("path", [ENVIRONMENT, BINDER_ENVIRONMENT, COMPOSE], ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_reader_agrees_with_pyyaml(path):
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it is optional here)")
    assert load_yaml(path) == _stringify(yaml.safe_load(path.read_text()))


# --- environment.yml and binder/environment.yml ---------------------------------------------


def test_environment_uses_conda_forge_only(environment):
    assert environment["name"] == "django-workshop"
    assert environment["channels"] == ["conda-forge"]


def test_environment_python_matches_requires_python(environment):
    conda, _, _ = split_environment(environment)
    assert "python" in conda and "pip" in conda
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    # The environment may narrow the range (to versions conda-forge builds), never widen it.
    assert set(requires) <= set(conda["python"]), (conda["python"], requires)
    assert Version("3.11") in conda["python"]


def test_every_runtime_dependency_is_in_environment_with_the_same_range(environment):
    conda, pip, _ = split_environment(environment)
    for name, req in runtime_requirements().items():
        conda_name = CONDA_NAMES.get(name, name)
        in_pip, in_conda = name in pip, conda_name in conda
        assert in_pip or in_conda, f"{req} is missing from environment.yml"
        assert not (in_pip and in_conda), f"{name} is listed both for conda and for pip"
        if in_pip:
            assert pip[name].specifier == req.specifier, f"pip: {pip[name]} != pyproject: {req}"
            assert pip[name].extras == req.extras, f"pip: {pip[name]} != pyproject: {req}"
        else:
            assert conda[conda_name] == req.specifier, f"conda: {conda_name}{conda[conda_name]} != pyproject: {req}"
            assert not req.extras, f"{req} has extras, which conda cannot install: list it under pip:"


def test_environment_lists_nothing_beyond_runtime_dependencies(environment):
    conda, pip, _ = split_environment(environment)
    runtime = runtime_requirements()
    conda_names = {CONDA_NAMES.get(name, name) for name in runtime}
    assert set(conda) - CONDA_TOOLING <= conda_names, set(conda) - CONDA_TOOLING - conda_names
    assert set(pip) <= set(runtime), set(pip) - set(runtime)
    test_extras = {
        canonicalize_name(Requirement(r).name) for r in pyproject()["project"]["optional-dependencies"]["test"]
    }
    assert not test_extras & (set(conda) | set(pip)), "test dependencies do not belong in environment.yml"


def test_environment_installs_the_project_without_test_extras(environment):
    _, _, options = split_environment(environment)
    assert options == [LOCAL_PROJECT]  # `-e .[test]` would pull the test dependencies


def test_binder_environment_is_the_top_level_one_without_the_project(environment, binder_environment):
    _, _, options = split_environment(binder_environment)
    # conda runs pip from the environment file's folder: in binder/, `.` is not the project.
    # binder/postBuild installs it instead.
    assert options == []
    expected = {**environment, "dependencies": []}
    for dep in environment["dependencies"]:
        if isinstance(dep, dict):
            dep = {"pip": [line for line in dep["pip"] if line != LOCAL_PROJECT]}
        elif dep.startswith("python"):
            dep = binder_python_line(binder_environment)  # pinned there; checked below
        expected["dependencies"].append(dep)
    assert binder_environment == expected


def binder_python_line(env: dict) -> str:
    return next(d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d))


def test_binder_pins_one_python_version_that_repo2docker_reads(environment, binder_environment):
    # repo2docker takes the Python version only from a `python=X.Y` line; a range such as
    # `python>=3.11,<3.14` is ignored, so it would build its default (older) Python and then
    # have conda solve its way up.
    line = binder_python_line(binder_environment)
    match = re.fullmatch(r"python=(3\.\d+)", line)
    assert match, f"binder/environment.yml: {line!r} is not a python=X.Y pin"
    pinned = Version(match.group(1))
    conda, _, _ = split_environment(environment)
    assert pinned in conda["python"], f"{pinned} is outside environment.yml's {conda['python']}"
    assert pinned in SpecifierSet(pyproject()["project"]["requires-python"])


# --- binder/postBuild and binder/start: their text -----------------------------------------


@pytest.mark.parametrize("script", [POST_BUILD, START], ids=lambda p: p.name)
def test_binder_script_is_executable_bash(script):
    assert script.is_file()
    assert os.access(script, os.X_OK), f"chmod +x {script.relative_to(REPO)}"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def test_start_ends_with_exec():
    lines = [line.strip() for line in START.read_text().splitlines() if line.strip()]
    assert lines[-1] == 'exec "$@"'


def test_post_build_steps():
    text = POST_BUILD.read_text()
    assert "set -euo pipefail" in text
    steps = ["pip install --no-deps -e .", "workshop setup --quiet", "workshop db down"]
    positions = [text.find(step) for step in steps]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert "c.LabApp.news_url = None" in text
    assert 'c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"' in text


# --- binder/postBuild and binder/start: run them ------------------------------------------


def _bin_dir() -> Path:
    """The folder with this Python's `workshop` command (the project's virtualenv)."""
    for folder in (Path(sys.executable).parent, REPO / ".venv" / "bin"):
        if (folder / "workshop").is_file():
            return folder
    pytest.skip("the `workshop` command is not installed next to this Python")


def _script_env(home: Path, extra_path: list[Path] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_") and k != "JUPYTER_CONFIG_DIR"}
    env.update(
        WORKSHOP_HOME=str(home / "state"),
        WORKSHOP_NO_DOCKER="1",  # the embedded server, as on Binder, even if a Docker stack runs here
        HOME=str(home),
        PATH=os.pathsep.join([*map(str, extra_path), str(_bin_dir()), "/usr/bin", "/bin"]),
    )
    return env


def _stop_embedded(env: dict[str, str]) -> None:
    subprocess.run([str(_bin_dir() / "workshop"), "db", "down"], env=env, capture_output=True, timeout=120)


@pytest.fixture
def script_home(state_home):
    """A HOME and WORKSHOP_HOME of their own (outside pytest's private tmp tree, which the
    server's own user could not enter); the embedded server started there is stopped after."""
    home = state_home.parent
    yield home
    _stop_embedded(_script_env(home))


@pytest.mark.slow
def test_start_starts_the_database_and_runs_the_command(script_home):
    env = _script_env(script_home)
    result = subprocess.run([str(START), "echo", "started"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "started"
    assert "PostgreSQL ready (embedded)" in result.stdout
    # The server outlives the script: that is what the session's notebooks connect to.
    status = subprocess.run(
        [str(_bin_dir() / "workshop"), "db", "url"], env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 0, status.stderr
    assert (script_home / "state" / "pgdata" / "postmaster.pid").exists()


def test_start_runs_the_command_even_when_the_database_cannot_start(tmp_path):
    env = _script_env(tmp_path)
    Path(env["WORKSHOP_HOME"]).write_text("a file where the state folder should be")
    result = subprocess.run([str(START), "echo", "started"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "started"
    assert "hint" in result.stderr


def test_start_runs_the_command_without_the_workshop_command(tmp_path):
    env = {**_script_env(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(START), "echo", "started"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["started"]
    assert "not installed" in result.stderr


@pytest.mark.slow
def test_post_build_prepares_the_database_and_stops_it(script_home):
    # pip is replaced by a stand-in that records its call: the project is already installed.
    fake_bin = script_home / "fake-bin"
    fake_bin.mkdir()
    calls = script_home / "pip-calls"
    (fake_bin / "pip").write_text(f'#!/usr/bin/env bash\necho "$PWD $*" >> {calls}\n')
    (fake_bin / "pip").chmod(0o755)
    env = {**_script_env(script_home, [fake_bin]), "WORKSHOP_DATA_SIZE": "tiny"}

    for _ in range(2):  # a second build (Binder rebuilds) must work too and not repeat the config
        result = subprocess.run([str(POST_BUILD)], env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr

    assert calls.read_text().splitlines() == [f"{REPO} install --no-deps -e ."] * 2
    assert "Dataset" in result.stdout and "tiny" in result.stdout
    pgdata = script_home / "state" / "pgdata"
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists(), "postBuild left the server running"

    config_file = script_home / ".jupyter" / "jupyter_server_config.py"
    assert config_file.read_text().count("c.LabApp.news_url") == 1
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    assert config.LabApp.news_url is None
    assert config.LabApp.check_for_updates_class == "jupyterlab.NeverCheckForUpdate"


# --- docker-compose.yml --------------------------------------------------------------------


def _published(service: dict) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):  # long syntax
            found.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
            continue
        parts = port.split(":")
        assert len(parts) == 3, f"{port!r}: publish as HOST_IP:HOST_PORT:CONTAINER_PORT"
        found.append((parts[0], int(parts[1]), int(parts[2].split("/")[0])))
    return found


def test_compose_has_no_obsolete_version_key(compose):
    assert "version" not in compose
    assert {"postgres", "elasticsearch"} <= set(compose["services"])  # themes may add their own (search)


def test_compose_publishes_ports_on_localhost_only(compose):
    for name, service in compose["services"].items():
        assert "network_mode" not in service, name
        for host, _, _ in _published(service):
            assert host == "127.0.0.1", f"{name} publishes on {host or 'every interface'}"


def test_compose_postgres_is_where_the_workshop_looks(compose):
    from workshop.services import postgres

    service = compose["services"]["postgres"]
    assert service["image"] == "postgres:15"
    env = service["environment"]
    assert env["POSTGRES_USER"] == postgres.DOCKER_USER
    assert env["POSTGRES_DB"] == "workshop"
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # resolve() connects without a password
    assert _published(service) == [(postgres.DOCKER_HOST, postgres.DOCKER_PORT, 5432)]
    volume = service["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the data volume should be a named one"
    assert "pg_isready" in " ".join(service["healthcheck"]["test"])


def test_compose_postgres_is_tuned_like_the_embedded_server(compose):
    from workshop.services import postgres

    service = compose["services"]["postgres"]
    command = service["command"]
    assert command[0] == "postgres" and command[1::2] == ["-c"] * (len(command) // 2)
    settings = dict(option.split("=", 1) for option in command[2::2])
    assert settings == postgres.EMBEDDED_TUNING
    assert "--lc-collate=C" in service["environment"]["POSTGRES_INITDB_ARGS"]


def test_compose_elasticsearch_matches_the_code(compose):
    from workshop.services import elasticsearch

    service = compose["services"]["elasticsearch"]
    repository, _, tag = service["image"].rpartition(":")
    assert repository == "docker.elastic.co/elasticsearch/elasticsearch"
    assert tag == es_version()
    assert Version(tag).major == elasticsearch.MAJOR
    client = runtime_requirements()["elasticsearch"]
    assert Version(tag) in client.specifier, f"the client {client} does not cover server {tag}"

    url = urlsplit(elasticsearch.DOCKER_URL)
    assert _published(service) == [(url.hostname, url.port, 9200)]
    env = service["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"  # the workshop connects over plain http
    assert env["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert env["ES_JAVA_OPTS"] == "-Xms512m -Xmx512m"
    test = " ".join(service["healthcheck"]["test"])
    assert "curl" in test and "/_cluster/health" in test
